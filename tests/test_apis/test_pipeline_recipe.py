# Copyright (c) mmseam contributors. All rights reserved.
"""The pipeline's recipe from a user's pipeline config and flags, its
errors, the split names, the masks check and the results table."""
import argparse
import os
import os.path as osp

import pytest

from mmseam.apis.pipeline import (PRESETS, Pipeline, markdown_table,
                                  package_file, result_rows, timing_line)
from mmseam.apis.pipeline.data import split_ann_file
from mmseam.apis.pipeline.recipe import build_recipe

SEAM = 'configs/seam/seam_tinyconvnet_1xb8-12e_synthvoc-224x224.py'
STAGE2 = ('configs/deeplab/deeplabv1-largefov_tinyconvnet_1xb8-12e_synthvoc-'
          'pseudo-224x224.py')


def namespace(**kwargs):
    base = dict(preset=None, pipeline_config=None, work_dir=None,
                data_root=None, stop_after=None)
    base.update(kwargs)
    return argparse.Namespace(**base)


def test_recipe_from_file_and_flags(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'cam.py').write_text(f"_base_ = ['{package_file(SEAM)}']\n")
    (tmp_path / 'pipe.py').write_text(
        "data_root = 'my_data'\nseam_config = 'mmseam::seam/"
        "seam_tinyconvnet_1xb8-12e_synthvoc-224x224.py'\n"
        "cam_config = 'cam.py'\nlabel_split = 'train'\n"
        'epochs = dict(seam=2)\ncrf_workers = 3\n')
    recipe, name, from_preset = build_recipe(
        namespace(pipeline_config='pipe.py', label_split='list.txt'))
    assert (name, from_preset) == ('pipe.py', False)
    assert recipe['seam'] == package_file(SEAM)
    assert recipe['cam'] == str(tmp_path / 'cam.py')  # absolute
    assert recipe['label_split'] == 'list.txt'  # the flag wins
    assert (recipe['data_root'], recipe['epochs'], recipe['crf_workers'],
            recipe['pretrain'], recipe['stop_after']) == (
                'my_data', dict(seam=2), 3, None, 'crf')
    # flags alone; a stage-2 config makes stage 2 the last step
    recipe, name, _ = build_recipe(
        namespace(seam_config='cam.py', stage2_config='cam.py',
                  data_root='d'))
    assert name == 'the command line' and recipe['stop_after'] == 'stage2'
    assert recipe['label_split'] is None and recipe['eval_split'] is None
    # a preset with an override: the preset's entries, the user's config
    recipe, name, from_preset = build_recipe(
        namespace(preset='synthetic-small', stage2_config='cam.py'))
    assert name == 'the synthetic-small preset with the command line'
    assert from_preset and recipe['stop_after'] == 'stage2'
    assert recipe['cam'] == PRESETS['synthetic-small']['cam']
    # nothing of the user's: the plain preset
    assert build_recipe(namespace(data_root='x'))[:2] == (
        PRESETS['synthetic'], 'the synthetic preset')


def test_recipe_errors_name_the_file_and_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'bad.py').write_text("seam_cfg = 'x.py'\n")
    with pytest.raises(KeyError, match=r"bad.py: unknown entries "
                       r"\['seam_cfg'\]; a pipeline config sets data_root"):
        build_recipe(namespace(pipeline_config='bad.py'))
    with pytest.raises(FileNotFoundError,
                       match=r'--pipeline-config nope.py: no such file'):
        build_recipe(namespace(pipeline_config='nope.py'))
    with pytest.raises(FileNotFoundError, match=r'seam config \(the command '
                       r'line\) my_seam.py: no such file .*mmseam::'):
        build_recipe(namespace(seam_config='my_seam.py', data_root='d'))
    with pytest.raises(ValueError, match='no SEAM config; pass --seam-config'):
        build_recipe(namespace(cam_config=package_file(SEAM), data_root='d'))
    with pytest.raises(ValueError, match='no data root; pass --data-root'):
        build_recipe(namespace(seam_config=package_file(SEAM)))
    (tmp_path / 'ep.py').write_text(
        f"seam_config = '{package_file(SEAM)}'\ndata_root = 'd'\n"
        'epochs = dict(seam=1, stage3=2)\n')
    with pytest.raises(ValueError, match=r"unknown stages \['stage3'\]"):
        build_recipe(namespace(pipeline_config='ep.py'))
    (tmp_path / 'init.py').write_text(
        f"seam_config = '{package_file(SEAM)}'\ndata_root = 'd'\n"
        "downstream_init = 'cam'\n")
    with pytest.raises(ValueError, match=r"init.py: downstream_init must be "
                       r"one of \('pretrain', 'seam'\), got 'cam'"):
        build_recipe(namespace(pipeline_config='init.py'))
    (tmp_path / 'init.py').write_text(
        f"seam_config = '{package_file(SEAM)}'\ndata_root = 'd'\n"
        "downstream_init = 'seam'\n")
    assert build_recipe(
        namespace(pipeline_config='init.py'))[0]['downstream_init'] == 'seam'
    # --stop-after beyond the user's configs
    with pytest.raises(ValueError, match=r'--stop-after rw: the command line '
                       r'has configs up to the crf step only; pass '
                       r'--stop-after crf or add the configs'):
        Pipeline(namespace(seam_config=package_file(SEAM), data_root='d',
                           work_dir=str(tmp_path / 'w'), stop_after='rw'))


def test_split_names():
    assert split_ann_file('train') == osp.join('ImageSets', 'Segmentation',
                                               'train.txt')
    assert split_ann_file('lists/a.txt') == 'lists/a.txt'
    assert split_ann_file('a.txt') == 'a.txt'
    assert split_ann_file(None) is None and split_ann_file('') is None


def test_masks_all_or_none(tmp_path):
    """The scored split is scored when every image has a mask, not scored
    when none has; a split with some masks is refused with the fix."""
    from mmseam.datasets.synthetic import make_synthetic_voc
    root = tmp_path / 'syn'
    make_synthetic_voc(str(root), seed=0, num_train=4, num_val=1,
                       image_size=64)

    def pipe():
        return Pipeline(namespace(seam_config=package_file(SEAM),
                                  data_root=str(root), label_split='train',
                                  work_dir=str(tmp_path / 'w')))

    masks = root / 'SegmentationClass'
    ids = pipe().split_ids('train')
    assert len(ids) == 4 and pipe().has_masks()
    os.remove(masks / f'{ids[1]}.png')
    with pytest.raises(ValueError, match=rf'3 of the 4 scored images have '
                       rf'masks in .*SegmentationClass, 1 not \(e.g. '
                       rf'{ids[1]}.png\).*--eval-split'):
        pipe().has_masks()
    for i in ids:
        if osp.isfile(masks / f'{i}.png'):
            os.remove(masks / f'{i}.png')
    assert not pipe().has_masks() and not pipe().scored


def test_results_table_rows():
    scored = dict(
        cam_cam=dict(mIoU=40.0, bg_threshold=0.2),
        seam_cam=dict(mIoU=50.5, bg_threshold=0.25),
        seam_crf=dict(mIoU=55.125, alpha=4.8),
        stage2_val=dict(mIoU=60.0))
    assert markdown_table(result_rows(scored, 'train')).splitlines() == [
        '| step | mIoU (%) | images | note |', '|---|---|---|---|',
        '| CAM baseline (multi-scale CAM, best bg threshold) | 40.00 | '
        'train | bg thr 0.20 |',
        '| SEAM (PCM output, best bg threshold) | 50.50 | train | '
        'bg thr 0.25 |',
        '| SEAM + dense CRF | 55.12 | train | alpha 4.8 |',
        '| Stage 2: DeepLab-v1 LargeFOV on the pseudo labels | 60.00 | '
        'val (held out) |  |'
    ]
    # the labels stage 2 learned from, in its note
    scored['stage2_labels'] = dict(
        source='crf', seed_agreement=0.9214, min_agreement=0.97)
    assert markdown_table(result_rows(scored, 'train')).splitlines()[-1] == (
        '| Stage 2: DeepLab-v1 LargeFOV on the pseudo labels | 60.00 | '
        'val (held out) | trained on the CRF labels (the random walk keeps '
        '0.921 of the confident CRF pixels, 0.97 needed) |')
    # tested with the config's test-time views and CRF: that is the score
    scored['stage2_val'] = dict(mIoU=63.5, mIoU_single_scale=60.0,
                                test='tta')
    assert markdown_table(result_rows(scored, 'train')).splitlines()[-1] == (
        '| Stage 2: DeepLab-v1 LargeFOV on the pseudo labels | 63.50 | '
        'val (held out) | trained on the CRF labels (the random walk keeps '
        '0.921 of the confident CRF pixels, 0.97 needed); tested with the '
        'config\'s test-time views and CRF (one view: 60.00) |')
    # no masks, no CAM baseline: n/a, the config's threshold
    unscored = dict(
        seam_cam=dict(mIoU=None, bg_threshold=0.3, threshold_from='config'),
        seam_crf=dict(mIoU=None, alpha=2.41))
    assert markdown_table(result_rows(unscored, 'all images')).splitlines()[
        2:] == [
            '| SEAM (PCM output, config bg threshold) | n/a | all images | '
            'bg thr 0.30 (config) |',
            '| SEAM + dense CRF | n/a | all images | alpha 2.41 |'
        ]


def test_timing_line():
    """The steps' wall times that end the pipeline's report."""
    assert timing_line(dict(train_pretrain=579.4, crf=34.3, total=2551.0)) \
        == ('step times (s): train_pretrain 579, crf 34, total 2551 '
            '(42.5 min)')
    assert timing_line(dict(crf=3.0)) == 'step times (s): crf 3'
