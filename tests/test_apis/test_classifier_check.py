# Copyright (c) mmseam contributors. All rights reserved.
"""Per-class AP of a CAM classifier (the pipeline's pretraining check)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from PIL import Image

import mmseam  # noqa: F401
from mmseam.apis import class_average_precision, image_label_scores
from mmseam.datasets.synthetic import make_synthetic_voc
from test_engine.test_seam_runner import seam_cfg

init_default_scope('mmseg')


def test_ap_hand_computed():
    # class 0, by score: pos, neg, pos -> (1/1 + 2/3) / 2
    # class 1, by score: neg, neg, pos -> 1/3
    # class 2: no positive image -> nan
    scores = np.array([[0.9, 0.8, 0.1], [0.5, 0.7, 0.2], [0.2, 0.3, 0.3]])
    labels = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0]])
    ap = class_average_precision(scores, labels)
    np.testing.assert_allclose(ap[:2], [(1 + 2 / 3) / 2, 1 / 3])
    assert np.isnan(ap[2])
    # a perfect ranking is 1 whatever the score scale
    np.testing.assert_allclose(
        class_average_precision(scores[:, :1] * 1e3 - 7, labels[:, :1]), [
            (1 + 2 / 3) / 2
        ])
    with pytest.raises(ValueError, match='must both be N x K'):
        class_average_precision(scores, labels[:, :2])


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    from mmseg.registry import DATASETS, MODELS
    root = str(tmp_path_factory.mktemp('synth_ap') / 'voc')
    make_synthetic_voc(root, seed=3, num_train=5, num_val=1, image_size=64)
    # one image at another size: it must run in a batch of its own
    path = osp.join(root, 'JPEGImages', 'train_00002.jpg')
    with Image.open(path) as img:
        img.resize((80, 48)).save(path, quality=95)
    cfg = seam_cfg(root, '/tmp/unused', hook=False)
    ds = cfg.test_dataloader.dataset.copy()
    ds['pipeline'] = [
        dict(type='LoadImageFromFile'),
        dict(type='PackSegClsInputs')
    ]
    ds['with_seg_map'] = False
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, DATASETS.build(ds)


def direct_scores(model, dataset, pool):
    """One image at a time, pooled by hand."""
    model.eval()
    rows = []
    with torch.no_grad():
        for i in range(len(dataset)):
            data = model.data_preprocessor(pseudo_collate([dataset[i]]),
                                           False)
            cam = model(data['inputs'], mode='tensor')['cam'][0, 1:]
            rows.append([
                float(c.max()) if pool == 'max' else float(c.mean())
                for c in cam
            ])
    return np.array(rows)


@pytest.mark.parametrize('pool', ['max', 'avg'])
def test_scores_equal_a_per_image_computation(setup, pool):
    model, dataset = setup
    model.train()
    scores, labels = image_label_scores(
        model, dataset, pool=pool, batch_size=3)
    assert model.training  # mode restored
    np.testing.assert_allclose(
        scores, direct_scores(model, dataset, pool), rtol=1e-4, atol=1e-5)
    expected = np.stack([
        dataset.get_data_info(i)['img_labels'] for i in range(len(dataset))
    ])
    np.testing.assert_array_equal(labels, expected)
    assert labels.shape == (5, model.num_classes - 1)


def test_pool_defaults_to_the_models_and_is_checked(setup):
    model, dataset = setup
    assert model.cls_pool == 'avg'
    default, _ = image_label_scores(model, dataset, batch_size=8)
    avg, _ = image_label_scores(model, dataset, pool='avg', batch_size=1)
    np.testing.assert_allclose(default, avg, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="pool='sum'"):
        image_label_scores(model, dataset, pool='sum')
