# Copyright (c) mmseam contributors. All rights reserved.
"""The ground-truth-free choice of stage-2 labels (random walk or CRF)."""
import numpy as np
import pytest
from PIL import Image

from mmseam.apis.pipeline.label_choice import (choose_stage2_labels,
                                               seed_agreement)


def _write(folder, img_id, arr):
    folder.mkdir(exist_ok=True)
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(
        folder / f'{img_id}.png')


@pytest.fixture
def dirs(tmp_path):
    # one 2 x 3 image: low power (la) labels class 2 at two pixels; high
    # power (ha) labels background at three others
    la = [[2, 2, 0], [0, 0, 0]]
    ha = [[2, 2, 2], [0, 0, 0]]
    _write(tmp_path / 'la', 'a', la)
    _write(tmp_path / 'ha', 'a', ha)
    # confident pixels: (0, 0), (0, 1) -> 2; (1, 0), (1, 1), (1, 2) -> 0;
    # (0, 2) is uncertain (fg under ha, bg under la)
    _write(tmp_path / 'keeps', 'a', [[2, 2, 1], [0, 0, 0]])  # 5 / 5
    _write(tmp_path / 'moves', 'a', [[2, 0, 2], [2, 0, 0]])  # 3 / 5
    # a second image without confident pixels counts as 1.0
    _write(tmp_path / 'la', 'b', [[0]])
    _write(tmp_path / 'ha', 'b', [[1]])
    for name in ('keeps', 'moves'):
        _write(tmp_path / name, 'b', [[1]])
    return tmp_path


def test_seed_agreement_by_hand(dirs):
    la, ha = str(dirs / 'la'), str(dirs / 'ha')
    assert seed_agreement(str(dirs / 'keeps'), la, ha, ['a']) == 1.0
    assert seed_agreement(str(dirs / 'moves'), la, ha,
                          ['a']) == pytest.approx(0.6)
    # the mean over images
    assert seed_agreement(str(dirs / 'moves'), la, ha,
                          ['a', 'b']) == pytest.approx(0.8)
    with pytest.raises(ValueError, match='no image ids'):
        seed_agreement(str(dirs / 'moves'), la, ha, [])
    with pytest.raises(FileNotFoundError, match=r'c.png: missing label'):
        seed_agreement(str(dirs / 'moves'), la, ha, ['c'])


def test_choose_stage2_labels(dirs):
    la, ha = str(dirs / 'la'), str(dirs / 'ha')
    crf = str(dirs / 'crf')
    got = choose_stage2_labels(crf, str(dirs / 'keeps'), la, ha, ['a'])
    assert got == dict(source='rw', dir=str(dirs / 'keeps'),
                       seed_agreement=1.0, min_agreement=0.97)
    got = choose_stage2_labels(crf, str(dirs / 'moves'), la, ha, ['a'])
    assert got['source'] == 'crf' and got['dir'] == crf
    assert got['seed_agreement'] == pytest.approx(0.6)
    got = choose_stage2_labels(
        crf, str(dirs / 'moves'), la, ha, ['a'], min_agreement=0.5)
    assert got['source'] == 'rw'
