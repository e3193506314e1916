# Copyright (c) mmseam contributors. All rights reserved.
"""``CRFSegTTAModel.merge_preds``: logit / probability merging and CRF."""
from dataclasses import asdict

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from PIL import Image

import mmseam  # noqa: F401
from mmseam.apis import CRF_PRESETS, crf_inference
from mmseam.models.segmentors.crf_tta import CRFSegTTAModel

init_default_scope('mmseg')


class DummySegmentor(torch.nn.Module):
    """Stands in for the wrapped model; merge_preds never calls it."""

    def test_step(self, data):
        raise AssertionError('not used')


def make_views(logits, img_path=None):
    """One SegDataSample per view with ``seg_logits`` (C x H x W)."""
    from mmseg.structures import SegDataSample
    views = []
    for lg in logits:
        s = SegDataSample()
        s.set_metainfo(dict(img_path=img_path or 'unused.png'))
        s.seg_logits = PixelData(data=lg.clone())
        views.append(s)
    return views


def tta(**kwargs):
    return CRFSegTTAModel(module=DummySegmentor(), **kwargs)


def stage2_crf():
    """The t=1 stage-2 test preset as keyword arguments."""
    preset = asdict(CRF_PRESETS['stage2_test'])
    preset.pop('alphas')
    assert preset['t'] == 1
    return preset


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(3, 4, 5, generator=g) * 3 for _ in range(2)], [
        torch.randn(3, 4, 5, generator=g) * 3 for _ in range(3)
    ]


def test_merge_logits_is_softmax_of_mean(logits):
    images = [make_views(v) for v in logits]
    out = tta(merge='logits').merge_preds(images)
    assert len(out) == 2
    for views, sample in zip(logits, out):
        stack = torch.stack(views)
        expect = torch.zeros_like(stack[0])
        for v in views:
            expect += v / len(views)
        expect = expect.exp() / expect.exp().sum(0, keepdim=True)
        torch.testing.assert_close(sample.seg_logits.data, expect)
        assert sample.pred_sem_seg.data.shape == (1, 4, 5)
        torch.testing.assert_close(sample.pred_sem_seg.data[0],
                                   expect.argmax(0))


def test_merge_probs_is_mean_softmax(logits):
    images = [make_views(v) for v in logits]
    out = tta(merge='probs').merge_preds(images)
    for views, sample in zip(logits, out):
        expect = sum(v.exp() / v.exp().sum(0, keepdim=True)
                     for v in views) / len(views)
        torch.testing.assert_close(sample.seg_logits.data, expect)
        torch.testing.assert_close(sample.pred_sem_seg.data[0],
                                   expect.argmax(0))
    # the two rules really differ on these views
    by_logits = tta(merge='logits').merge_preds(
        [make_views(v) for v in logits])
    assert not torch.allclose(by_logits[0].seg_logits.data,
                              out[0].seg_logits.data)


def test_merge_single_view_and_bad_merge():
    lg = torch.tensor([[[2.0, -1.0]], [[0.0, 1.0]]])  # 2 x 1 x 2
    for merge in ('logits', 'probs'):
        out = tta(merge=merge).merge_preds([make_views([lg])])[0]
        torch.testing.assert_close(out.seg_logits.data, lg.softmax(0))
        assert out.pred_sem_seg.data.tolist() == [[[0, 1]]]
    with pytest.raises(ValueError, match='merge'):
        tta(merge='mean')


def test_crf_refines_to_valid_probabilities(tmp_path):
    """t=1 CRF on a two-colour image: probabilities, clear-cut argmax."""
    h, w = 12, 16
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :w // 2] = (220, 30, 30)  # red left half
    img[:, w // 2:] = (30, 30, 220)  # blue right half
    path = str(tmp_path / 'img.png')
    Image.fromarray(img).save(path)
    truth = torch.zeros(h, w, dtype=torch.long)
    truth[:, w // 2:] = 1
    g = torch.Generator().manual_seed(0)
    views = []
    for _ in range(2):
        lg = torch.randn(2, h, w, generator=g) * 0.3
        lg[0] += 4 * (truth == 0)
        lg[1] += 4 * (truth == 1)
        views.append(lg)
    # one noisy pixel that the colour-consistent CRF should fix
    views[0][1, 3, 2] += 12
    crf = stage2_crf()
    out = tta(crf=crf).merge_preds([make_views(views, path)])[0]
    probs = out.seg_logits.data
    assert probs.shape == (2, h, w) and probs.dtype == torch.float32
    assert probs.min() >= 0 and probs.max() <= 1
    torch.testing.assert_close(probs.sum(0), torch.ones(h, w))
    torch.testing.assert_close(out.pred_sem_seg.data[0], truth, rtol=0,
                               atol=0)
    # exactly the CRF of the merged probabilities with the RGB image
    merged = torch.stack(views).mean(0).softmax(0)
    assert merged.argmax(0)[3, 2] == 1  # the noise survives without CRF
    expect = crf_inference(img, merged.numpy(), **crf)
    np.testing.assert_allclose(probs.numpy(), expect, rtol=0, atol=1e-6)
    # and it differs from no CRF
    plain = tta().merge_preds([make_views(views, path)])[0]
    assert not torch.allclose(plain.seg_logits.data, probs)


def test_crf_missing_image_is_an_error(tmp_path):
    lg = torch.zeros(2, 3, 3)
    with pytest.raises(FileNotFoundError, match='missing.png'):
        tta(crf=stage2_crf()).merge_preds(
            [make_views([lg], str(tmp_path / 'missing.png'))])


def test_crf_by_preset_name():
    """``crf='stage2_test'`` is the official preset's keyword arguments."""
    assert tta(crf='stage2_test').crf == stage2_crf()
    with pytest.raises(KeyError, match="unknown CRF preset 'nope'"):
        tta(crf='nope')
