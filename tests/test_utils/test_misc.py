# Copyright (c) mmseam contributors. All rights reserved.
import math
import os.path as osp

import numpy as np
import pytest
import torch

import mmseam.models.necks.pcm as pcm_module
from mmseam.apis import voc_colormap as voc_colormap_list
from mmseam.datasets.synthetic import voc_colormap as voc_colormap_synth
from mmseam.models.utils.projection import (build_projections,
                                            official_projection_init)
from mmseam.utils.misc import check_4d, source_path, voc_colormap

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_source_path_is_the_module_file():
    assert source_path('mmseam.models.necks.pcm') == \
        'mmseam/models/necks/pcm.py'
    assert osp.samefile(
        osp.join(REPO, source_path(pcm_module.__name__)), pcm_module.__file__)
    assert pcm_module._FILE == 'mmseam/models/necks/pcm.py'


def test_check_4d():
    check_4d(torch.zeros(1, 2, 3, 4), 'f', 'a/b.py')  # no error
    with pytest.raises(ValueError, match=r'a/b\.py: `f` expects a 4D .* '
                       r'got \(2, 3, 4\)'):
        check_4d(torch.zeros(2, 3, 4), 'f', 'a/b.py')
    with pytest.raises(ValueError, match='ndarray'):
        check_4d(np.zeros((1, 2, 3, 4)), 'f', 'a/b.py')


def test_voc_colormap_one_table_three_names():
    cmap = voc_colormap()
    assert cmap.shape == (256, 3) and cmap.dtype == np.uint8
    # bit-interleaved by hand: 1 -> r bit 7; 6 = 0b110 -> g, b bit 7;
    # 8 = 0b001000 -> r bit 6
    assert cmap[1].tolist() == [128, 0, 0]
    assert cmap[6].tolist() == [0, 128, 128]
    assert cmap[8].tolist() == [64, 0, 0]
    assert cmap[255].tolist() == [224, 224, 192]
    assert voc_colormap_list(5) == cmap[:5].tolist()
    assert voc_colormap_synth is voc_colormap


def test_projections_shapes_and_official_init():
    torch.manual_seed(0)
    proj, fuse = build_projections((16, 32), (4, 8), 15, 6)
    official_projection_init(proj, fuse)
    assert [tuple(c.weight.shape) for c in proj] == [(4, 16, 1, 1),
                                                     (8, 32, 1, 1)]
    assert tuple(fuse.weight.shape) == (6, 15, 1, 1)
    assert all(c.bias is None for c in list(proj) + [fuse])
    # xavier uniform, gain 4: |w| <= 4 * sqrt(6 / (fan_in + fan_out))
    bound = 4 * math.sqrt(6 / (15 + 6))
    assert fuse.weight.abs().max() <= bound
    assert fuse.weight.abs().max() > 0.8 * bound
    # kaiming normal (fan_in, relu): std sqrt(2 / fan_in)
    assert proj[1].weight.std().item() == pytest.approx(
        math.sqrt(2 / 32), rel=0.25)
