# Copyright (c) mmseam contributors. All rights reserved.
"""Stage 2: a segmentation network trained on the pseudo labels, tested on
held-out images with real masks."""
import importlib.util
import os.path as osp
from typing import Optional

from .common import log, parse_opts
from .presets import package_file


def _load_tool(name: str):
    """Import ``tools/<name>.py`` (from the checkout or ``mmseam/.mim``)."""
    path = package_file(f'tools/{name}.py')
    spec = importlib.util.spec_from_file_location(f'mmseam_tool_{name}',
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def missing_test_masks(cfg) -> Optional[str]:
    """The first mask the ``test_dataloader`` of ``cfg`` lists that does
    not exist (None: all exist)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    ds = cfg.test_dataloader.dataset.copy()
    ds['pipeline'] = []
    dataset = DATASETS.build(ds)
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        path = info.get('seg_map_path')
        if not path or not osp.isfile(path):
            return path or f'{info.get("img_path")} (no seg_map_path)'
    return None


class Stage2Step:
    """Mixin of :class:`Pipeline`: stage-2 training and test."""

    def stage2(self, pseudo_dir: str, data_opts, init_opts):
        """Train the stage-2 config on the labels in ``pseudo_dir`` and test
        it with its own test set: on one view, and where the config has a
        ``tta_model`` with its test-time views and CRF (``--tta``), which
        is then the result (``results['stage2_val']['mIoU']``; the one-view
        score is ``mIoU_single_scale``).

        Returns:
            tuple: The merged config and the checkpoint.
        """
        from mmengine.config import Config
        seg_opts = list(data_opts) + list(init_opts) + [
            'train_dataloader.dataset.data_prefix.seg_map_path=' + pseudo_dir
        ]
        seg_ckpt = self.train('stage2', self.p['stage2'], seg_opts)
        cfg_dump = osp.join(self.work, 'stage2_test_cfg.py')
        c = Config.fromfile(self.config_path(self.p['stage2']))
        c.merge_from_dict(parse_opts(seg_opts))
        c.dump(cfg_dump)
        missing = missing_test_masks(c)
        if missing:
            self.results['stage2_val'] = dict(mIoU=None)
            log(f'stage2: no masks for its test images (e.g. {missing}): '
                'not scored')
            return c, seg_ckpt
        test = _load_tool('test').main
        single = float(test([
            cfg_dump, seg_ckpt, '--work-dir',
            osp.join(self.work, 'stage2_test')
        ])['mIoU'])
        res = dict(mIoU=single, mIoU_single_scale=single, test='single')
        log(f'stage2: val mIoU {single:.2f} (one view)')
        if 'tta_model' in c and 'tta_pipeline' in c:
            # the config's test-time protocol (views + CRF) is the result
            res['mIoU'] = float(test([
                cfg_dump, seg_ckpt, '--tta', '--work-dir',
                osp.join(self.work, 'stage2_test_tta')
            ])['mIoU'])
            res['test'] = 'tta'
            log(f'stage2: val mIoU {res["mIoU"]:.2f} (the config\'s '
                'test-time views and CRF, --tta)')
        self.results['stage2_val'] = res
        return c, seg_ckpt
