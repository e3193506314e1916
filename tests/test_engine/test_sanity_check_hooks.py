# Copyright (c) mmseam contributors. All rights reserved.
"""A model that does not fit its data set or its checkpoint is refused by
tools/train.py, tools/test.py and tools/infer_cams.py before any compute,
naming the key / file and the fix, with nothing written."""
import glob
import os
import os.path as osp
import sys

import mmseam  # noqa: F401
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from mmseam.datasets.synthetic import make_synthetic_voc
from mmseam.engine import (CheckpointMismatchError, NumClassesMismatchError,
                           check_checkpoint_fits)

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from reliability_utils import seam_train_cfg, stage2_train_cfg  # noqa: E402

init_default_scope('mmseg')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('sanity') / 'voc')
    make_synthetic_voc(root, seed=4, num_train=4, num_val=1, image_size=64)
    return root


@pytest.fixture(autouse=True)
def single_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
    torch.use_deterministic_algorithms(False)


def nothing_written(work_dir):
    return not glob.glob(osp.join(work_dir, '**', '*.pth'), recursive=True)


def seam_ckpt(path, **model_overrides):
    cfg = seam_train_cfg('unused', 'unused')
    cfg.model.update(model_overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return model


def test_train_refuses_num_classes_mismatch(data_root, tmp_path):
    from tools import train as train_tool
    work = str(tmp_path / 'seam')
    cfg = seam_train_cfg(data_root, work)
    cfg.model.num_classes = 4  # the synthetic set has 6 (with background)
    path = str(tmp_path / 'seam.py')
    cfg.dump(path)
    with pytest.raises(NumClassesMismatchError) as err:
        train_tool.main([path, '--work-dir', work])
    msg = str(err.value)
    assert msg.startswith('model.num_classes=4 but train_dataloader.dataset '
                          'has 6 classes')
    assert 'Set model.num_classes to 6' in msg
    assert nothing_written(work)

    # stage 2 (EncoderDecoder): the decode head's count is checked
    work = str(tmp_path / 'stage2')
    cfg = stage2_train_cfg(data_root, work)
    cfg.model.decode_head.num_classes = 21
    path = str(tmp_path / 'stage2.py')
    cfg.dump(path)
    with pytest.raises(NumClassesMismatchError) as err:
        train_tool.main([path, '--work-dir', work])
    msg = str(err.value)
    assert msg.startswith('model.decode_head.num_classes=21 but '
                          'train_dataloader.dataset has 6 classes')
    assert 'Set model.decode_head.num_classes to 6' in msg
    assert nothing_written(work)


def test_train_refuses_checkpoint_that_does_not_fit(data_root, tmp_path):
    from tools import train as train_tool
    cfg_path = str(tmp_path / 'seam.py')
    seam_train_cfg(data_root, str(tmp_path / 'w')).dump(cfg_path)

    # a 21-class checkpoint into the 6-class model: classifier shape
    wrong = str(tmp_path / 'voc21.pth')
    seam_ckpt(wrong, num_classes=21)
    work = str(tmp_path / 'w1')
    with pytest.raises(CheckpointMismatchError) as err:
        train_tool.main([
            cfg_path, '--work-dir', work, '--cfg-options', f'load_from={wrong}'
        ])
    msg = str(err.value)
    assert f'checkpoint {wrong} does not fit the SEAM model' in msg
    assert 'classifier.weight: checkpoint (21, 64, 1, 1) vs model (6, 64, ' \
        '1, 1)' in msg
    assert 'num_classes' in msg
    assert nothing_written(work)

    # official (unconverted) keys: shares no key with the model
    official = str(tmp_path / 'official.pth')
    torch.save({
        'conv1a.weight': torch.zeros(64, 3, 3, 3),
        'fc8.weight': torch.zeros(20, 4096, 1, 1)
    }, official)
    work = str(tmp_path / 'w2')
    with pytest.raises(CheckpointMismatchError) as err:
        train_tool.main([
            cfg_path, '--work-dir', work, '--cfg-options',
            f'load_from={official}'
        ])
    msg = str(err.value)
    assert 'holds only 0 of the model' in msg
    assert 'seam_official_to_mmseam.py' in msg
    assert nothing_written(work)

    # --resume from a checkpoint of another model: refused as well
    work = str(tmp_path / 'w3')
    with pytest.raises(CheckpointMismatchError, match='classifier.weight'):
        train_tool.main([cfg_path, '--work-dir', work, '--resume', wrong])
    assert nothing_written(work)


def test_test_and_infer_cams_need_every_weight(data_root, tmp_path):
    from tools import test as test_tool
    cfg_path = str(tmp_path / 'seam.py')
    seam_train_cfg(data_root, str(tmp_path / 'w')).dump(cfg_path)
    model = seam_ckpt(str(tmp_path / 'full.pth'))
    sd = {k: v for k, v in model.state_dict().items() if 'neck' not in k}
    partial = str(tmp_path / 'no_pcm.pth')
    torch.save(dict(state_dict=sd, meta={}), partial)
    with pytest.raises(CheckpointMismatchError) as err:
        test_tool.main([cfg_path, partial, '--work-dir', str(tmp_path / 't')])
    msg = str(err.value)
    assert f'checkpoint {partial} does not fit' in msg
    assert 'missing e.g. neck.' in msg and '(required: 100%)' in msg

    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'infer_cams_tool',
        osp.join(osp.dirname(osp.dirname(osp.dirname(__file__))), 'tools',
                 'infer_cams.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / 'cams')
    with pytest.raises(CheckpointMismatchError, match='neck.'):
        tool.main([
            cfg_path, partial, '--out-dir', out, '--num-workers', '0',
            '--device', 'cpu'
        ])
    assert not osp.exists(out) or not os.listdir(out)
    # the full checkpoint passes the same check
    res = check_checkpoint_fits(model,
                                torch.load(str(tmp_path / 'full.pth')))
    assert res['missing'] == [] and res['unexpected'] == []


def test_train_refuses_pretrained_init_without_checkpoint(data_root, tmp_path):
    """The synthetic configs leave the backbone's Pretrained checkpoint to
    the caller: a training run without it stops before any compute, naming
    the key and the fix; the checkpoint (or init_cfg=None) makes it run."""
    from mmengine.config import Config

    from mmseam.engine.hooks.sanity_check_hooks import check_pretrained_init
    from tools import train as train_tool
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

    # a shipped config: the unset key is named, with both fixes
    cfg = Config.fromfile(
        osp.join(repo, 'configs', 'seam',
                 'seam_tinyconvnet_1xb8-12e_synthvoc-224x224.py'))
    model = MODELS.build(cfg.model)
    with pytest.raises(ValueError) as err:
        check_pretrained_init(model)
    assert str(err.value).startswith(
        'model.backbone.init_cfg.checkpoint is not set')
    assert '--cfg-options model.backbone.init_cfg.checkpoint=PATH' in str(
        err.value)
    assert 'model.backbone.init_cfg=None to train from scratch' in str(
        err.value)
    model.backbone.init_cfg['checkpoint'] = 'x.pth'
    assert check_pretrained_init(model) == [
        'model.backbone.init_cfg.checkpoint'
    ]
    model.backbone.init_cfg = None
    assert check_pretrained_init(model) == []

    # tools/train.py: refused before anything is written
    # weights no fresh initialisation has (shifted by 1)
    backbone_ckpt = str(tmp_path / 'backbone.pth')
    state = {
        k: v + 1 if v.is_floating_point() else v
        for k, v in seam_ckpt(backbone_ckpt).state_dict().items()
    }
    torch.save(dict(state_dict=state, meta={}), backbone_ckpt)
    cfg = seam_train_cfg(data_root, str(tmp_path / 'w'), max_epochs=1)
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=None, prefix='backbone.')
    cfg_path = str(tmp_path / 'seam.py')
    cfg.dump(cfg_path)
    work = str(tmp_path / 'w1')
    with pytest.raises(ValueError, match='model.backbone.init_cfg.checkpoint '
                       'is not set'):
        train_tool.main([cfg_path, '--work-dir', work])
    assert nothing_written(work)

    # the key set, as the pipeline passes it: the backbone starts from it
    work = str(tmp_path / 'w2')
    runner = train_tool.main([
        cfg_path, '--work-dir', work, '--cfg-options',
        f'model.backbone.init_cfg.checkpoint={backbone_ckpt}',
        'train_cfg.max_epochs=0'
    ])
    got = runner.model.state_dict()
    backbone_keys = [k for k in state if k.startswith('backbone.')]
    assert backbone_keys
    for key in backbone_keys:
        assert torch.equal(got[key], state[key]), key
    assert not torch.equal(got['classifier.weight'],
                           state['classifier.weight'])
