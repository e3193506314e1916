# Copyright (c) mmseam contributors. All rights reserved.
"""The whole weakly supervised pipeline, one step after another."""
import os
import os.path as osp
import time

from .common import log
from .presets import LAST_STEPS, PRESETS, package_file, repo_root
from .pseudo_labels import PseudoLabelSteps
from .report import ReportStep
from .stage2 import Stage2Step
from .state import ResultsFile, check_synthetic_data
from .training import TrainingSteps


class Pipeline(TrainingSteps, PseudoLabelSteps, Stage2Step, ReportStep):
    """Pretraining, CAM baseline and SEAM, CAM inference, dense CRF,
    AffinityNet random walk, stage 2 and a report, each step skipped when
    its outputs exist (an interrupted run resumes).

    Args:
        args (argparse.Namespace): The options of ``tools/run_pipeline.py``
            (``preset``, ``work_dir``, ``data_root``, ``stop_after``,
            ``seed``, ``device``, ``amp``, ``crf_alphas``,
            ``skip_affinity``, ``figure_rows``, ``train_options``).
    """

    def __init__(self, args) -> None:
        self.args = args
        self.p = dict(PRESETS[args.preset])
        self.name = f'the {args.preset} preset'
        # the last step: --stop-after, else the recipe's
        latest = self.p.get('stop_after', 'stage2')
        self.stop = args.stop_after or latest
        if LAST_STEPS.index(self.stop) > LAST_STEPS.index(latest):
            raise ValueError(
                f'--stop-after {self.stop}: {self.name} has configs up to '
                f'the {latest} step only; pass --stop-after {latest} or use '
                'the synthetic preset')
        self.work = osp.abspath(args.work_dir or self.p['work_dir'])
        self.data_root = osp.abspath(args.data_root or self.p['data_root'])
        # relative paths in the preset configs (e.g. ``pretrained/``) are
        # relative to the checkout
        self.cwd = repo_root() or os.getcwd()
        os.makedirs(self.work, exist_ok=True)
        self.results_path = osp.join(self.work, 'results.json')
        self._state = ResultsFile(self.results_path)

    # ------------------------------------------------------------ state
    @property
    def results(self) -> dict:
        """Scores of the steps (``results`` of ``results.json``)."""
        return self._state.results

    @property
    def timings(self) -> dict:
        """Wall time of the steps (``seconds`` of ``results.json``)."""
        return self._state.timings

    @property
    def device(self) -> str:
        """The device of in-process inference (``--device``)."""
        return getattr(self.args, 'device', 'cpu')

    def save_results(self) -> None:
        """Write ``results.json`` (atomically)."""
        self._state.save()

    def config_path(self, cfg: str) -> str:
        """The absolute path of a recipe's config."""
        return package_file(cfg)

    # ------------------------------------------------------------ data
    def data_opts(self, *keys) -> list:
        """``--cfg-options`` pointing the dataloaders ``keys`` at the data
        root."""
        return [f'{k}.dataset.data_root={self.data_root}' for k in keys]

    def split_ids(self, split: str) -> list:
        """The image ids of ``split``."""
        path = osp.join(self.data_root, 'ImageSets', 'Segmentation',
                        f'{split}.txt')
        with open(path) as f:
            return [ln.split()[0] for ln in f if ln.strip()]

    def metainfo(self) -> dict:
        """``classes`` and ``palette`` of the data set (its
        ``metainfo.json``, else the SEAM config's)."""
        from ..cam_io import load_metainfo
        path = osp.join(self.data_root, 'metainfo.json')
        if osp.isfile(path):
            return load_metainfo(path)
        return load_metainfo(self.config_path(self.p['seam']))

    def check_synthetic_data(self, wanted: dict) -> None:
        """See :func:`~.state.check_synthetic_data`."""
        check_synthetic_data(self.data_root, wanted)

    def prepare_data(self) -> None:
        """Generate the synthetic set (synthetic recipes), or check that
        the data root exists."""
        if self.p['data'] is not None:  # a synthetic preset
            if not osp.isfile(osp.join(self.data_root, 'metainfo.json')):
                from mmseam.datasets.synthetic import make_synthetic_voc
                log(f'data: generating the synthetic set in {self.data_root}')
                make_synthetic_voc(
                    self.data_root, seed=self.args.seed, **self.p['data'])
            else:
                # a set passed with --data-root may have any size
                self.check_synthetic_data(
                    {} if self.args.data_root else self.p['data'])
                log(f'data: using {self.data_root}')
        elif not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f'VOC data root {self.data_root} does not exist: download '
                f'PASCAL VOC 2012 + SBD (docs/pipeline.md) or pass '
                f'--data-root')

    # ------------------------------------------------------------- run
    def run(self) -> None:
        """Run every step up to ``--stop-after`` and write the report."""
        t_start = time.time()
        self.prepare_data()
        data_opts = self.data_opts('train_dataloader', 'val_dataloader',
                                   'test_dataloader')
        # every later stage starts from the pretraining stand-in
        init_opts = []
        if self.p['pretrain']:
            pre_ckpt = self.pretrain(data_opts)
            init_opts = [f'model.backbone.init_cfg.checkpoint={pre_ckpt}']
        # CAM baseline and SEAM: same backbone init and schedule
        ckpts = {
            name: self.train(name, self.p[name], data_opts + init_opts)
            for name in ('cam', 'seam')
        }
        cam_dirs = {
            name: self.infer(name, self.p[name], ckpt)
            for name, ckpt in ckpts.items()
        }
        self.score_cams(cam_dirs)
        seam_out = cam_dirs['seam']
        with_affinity = not self.args.skip_affinity and self.stop != 'crf'
        crf = self.crf(seam_out, with_affinity)
        from ..crf import crf_output_dirs
        pseudo_dir = crf_output_dirs(crf['root'], crf['alpha'])[1]
        if with_affinity:
            pseudo_dir = self.affinity_rw(seam_out, crf['root'], crf['alpha'],
                                          init_opts)
        seg_cfg = seg_ckpt = None
        if self.stop == 'stage2':
            seg_cfg, seg_ckpt = self.stage2(pseudo_dir, data_opts, init_opts)
        self.timings['total'] = round(time.time() - t_start, 1)
        self.save_results()
        self.report(cam_dirs['cam'], seam_out, pseudo_dir, seg_cfg, seg_ckpt)
