# Copyright (c) mmseam contributors. All rights reserved.
"""bilinear_resize / interp_matrix against F.interpolate and by hand."""
import pytest
import torch
import torch.nn.functional as F

from mmseam.models.utils import bilinear_resize, interp_matrix


def test_interp_matrix_by_hand():
    # align_corners=True, 3 -> 5: sources 0, 0.5, 1, 1.5, 2
    want = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 1.0, 0.0],
                         [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]])
    torch.testing.assert_close(
        interp_matrix(3, 5, True, torch.device('cpu')), want)
    # align_corners=False, 2 -> 4: sources max(-0.25, 0)=0, 0.25, 0.75,
    # 1.25 (clamped to the last sample)
    want = torch.tensor([[1.0, 0.0], [0.75, 0.25], [0.25, 0.75],
                         [0.0, 1.0]])
    torch.testing.assert_close(
        interp_matrix(2, 4, False, torch.device('cpu')), want)
    # one output sample: the first input sample (align_corners=True)
    torch.testing.assert_close(
        interp_matrix(4, 1, True, torch.device('cpu')),
        torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    m = interp_matrix(56, 448, True, torch.device('cpu'))
    assert m.shape == (448, 56)
    torch.testing.assert_close(m.sum(1), torch.ones(448))
    assert int((m != 0).sum(1).max()) <= 2


@pytest.mark.parametrize('align_corners', [True, False])
@pytest.mark.parametrize('shape,size', [
    ((2, 3, 7, 9), (28, 36)),  # upsample
    ((1, 4, 30, 20), (9, 6)),  # downsample
    ((2, 2, 1, 5), (3, 11)),  # a single row
    ((1, 1, 6, 6), (6, 6)),  # same size
])
def test_equals_f_interpolate(align_corners, shape, size):
    torch.manual_seed(0)
    x = torch.randn(*shape, requires_grad=True)
    y = torch.randn(*shape, requires_grad=True)
    with torch.no_grad():
        y.copy_(x)
    want = F.interpolate(x, size, mode='bilinear',
                         align_corners=align_corners)
    got = bilinear_resize(y, size, align_corners)
    assert got.shape == want.shape and got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    g = torch.randn_like(want)
    want.backward(g)
    got.backward(g)
    torch.testing.assert_close(y.grad, x.grad, rtol=1e-5, atol=1e-5)


def test_fp32_under_autocast():
    x = torch.randn(1, 2, 5, 5)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = bilinear_resize(x, (10, 10), True)
    assert out.dtype == torch.float32
    torch.testing.assert_close(
        out, F.interpolate(x, (10, 10), mode='bilinear', align_corners=True))


@pytest.mark.parametrize('n_in,n_mid,n_out', [(7, 13, 13), (12, 94, 47),
                                              (5, 20, 31), (24, 188, 375)])
def test_resize_chain_matrix_equals_two_interpolations(n_in, n_mid, n_out):
    """One (n_out, n_in) matrix = align_corners=True to n_mid, then
    align_corners=False to n_out, along both axes."""
    from mmseam.models.utils import resize_chain_matrix
    g = torch.Generator().manual_seed(n_in * 100 + n_out)
    # fp32 as in SEAM (the matrices use fp32 source coordinates, as
    # PyTorch's fp32 kernels do)
    x = torch.randn(2, 3, n_in, n_in + 1, generator=g)
    ref = F.interpolate(
        F.interpolate(x, (n_mid, n_mid + 2), mode='bilinear',
                      align_corners=True),
        (n_out, n_out + 3), mode='bilinear', align_corners=False)
    m_h = resize_chain_matrix(n_in, n_mid, n_out, torch.device('cpu'))
    m_w = resize_chain_matrix(n_in + 1, n_mid + 2, n_out + 3,
                              torch.device('cpu'))
    assert m_h.shape == (n_out, n_in)
    torch.testing.assert_close(m_h.sum(1), torch.ones(n_out))
    torch.testing.assert_close(m_h @ x @ m_w.t(), ref, rtol=0, atol=1e-5)


def test_multiscale_flip_sum_as_matrix_products():
    """SEAM._to_image (chained resize, flipped copies summed by the mirrored
    width matrix) = resize to the input, resize to the image, flip back,
    add: the official order of operations."""
    from mmseam.models.segmentors.seam import SEAM
    g = torch.Generator().manual_seed(3)
    n, size, out_size = 2, (30, 41), (20, 27)
    out = torch.randn(2 * n, 4, 4, 6, generator=g)
    total = torch.randn(n, 4, *out_size, generator=g)
    got = SEAM._to_image(out, size, out_size, n, True, total)
    up = F.interpolate(out, size, mode='bilinear', align_corners=True)
    up = F.interpolate(up, out_size, mode='bilinear', align_corners=False)
    ref = total + up[:n] + up[n:].flip(-1)
    torch.testing.assert_close(got, ref, rtol=0, atol=2e-5)
    no_flip = SEAM._to_image(out[:n], size, out_size, n, False, None)
    torch.testing.assert_close(no_flip, up[:n], rtol=0, atol=2e-5)
