# Copyright (c) mmseam contributors. All rights reserved.
import pytest
import torch

import mmseam  # noqa: F401
from mmseam.models.utils import max_norm, max_onehot


def test_max_norm_hand_values():
    eps = 1e-5
    # channel 0: relu -> [0, 1, 2, 4]; min 0, max 4
    # channel 1: [3, 3, 5, 7]; min 3, max 7
    cam = torch.tensor([[[[-1., 1.], [2., 4.]], [[3., 3.], [5., 7.]]]])
    out = max_norm(cam, eps=eps)
    exp0 = torch.tensor([[0., 1. - eps], [2. - eps, 4. - eps]]) / (4 + eps)
    exp1 = torch.tensor([[0., 0.], [2. - eps, 4. - eps]]) / (4 + eps)
    assert out.shape == cam.shape
    torch.testing.assert_close(out[0, 0], exp0)
    torch.testing.assert_close(out[0, 1], exp1)
    # input untouched
    assert cam[0, 0, 0, 0] == -1


def test_max_norm_per_sample_and_channel():
    cam = torch.rand(3, 4, 5, 6) * 10
    out = max_norm(cam)
    for n in range(3):
        for c in range(4):
            p = cam[n, c].clamp(min=0)
            lo, hi = p.min(), p.max()
            ref = (p - lo - 1e-5).clamp(min=0) / (hi - lo + 1e-5)
            torch.testing.assert_close(out[n, c], ref)
    # constant channel -> zeros
    assert max_norm(torch.full((1, 1, 2, 2), 3.)).abs().sum() == 0
    # all negative -> zeros
    assert max_norm(-torch.rand(1, 2, 3, 3)).abs().sum() == 0
    with pytest.raises(ValueError, match='cam_ops.py'):
        max_norm(torch.rand(2, 3, 3))


def test_max_onehot_hand_values():
    # channels: bg, fg1, fg2, fg3 on a 1x3 image
    cam = torch.tensor([[[[9., 0., 1.]], [[1., 5., 2.]], [[3., 5., 0.]],
                         [[2., 4., 2.]]]])
    out = max_onehot(cam)
    # bg kept even where it is the largest value (max over fg only)
    exp = torch.tensor([[[[9., 0., 1.]], [[0., 5., 2.]], [[3., 5., 0.]],
                         [[0., 0., 2.]]]])
    torch.testing.assert_close(out, exp)
    # not in place
    assert cam[0, 1, 0, 0] == 1.


def test_max_onehot_random_matches_loop():
    cam = torch.rand(2, 5, 3, 4)
    out = max_onehot(cam)
    for n in range(2):
        for y in range(3):
            for x in range(4):
                fg = cam[n, 1:, y, x]
                j = int(fg.argmax())
                exp = torch.zeros(5)
                exp[0] = cam[n, 0, y, x]
                exp[1 + j] = fg[j]
                torch.testing.assert_close(out[n, :, y, x], exp)
    with pytest.raises(ValueError, match='foreground'):
        max_onehot(torch.rand(1, 1, 2, 2))
