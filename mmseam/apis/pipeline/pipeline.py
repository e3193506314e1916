# Copyright (c) mmseam contributors. All rights reserved.
"""The whole weakly supervised pipeline, one step after another."""
import os
import os.path as osp
import time

from .common import log
from .data import DataSteps
from .presets import LAST_STEPS, package_file, repo_root
from .pseudo_labels import PseudoLabelSteps
from .recipe import build_recipe
from .report import ReportStep
from .label_choice import choose_stage2_labels
from .stage2 import Stage2Step
from .state import ResultsFile, check_synthetic_data
from .training import TrainingSteps


class Pipeline(DataSteps, TrainingSteps, PseudoLabelSteps, Stage2Step,
               ReportStep):
    """Pretraining, CAM baseline and SEAM, CAM inference, dense CRF,
    AffinityNet random walk, stage 2 and a report, each step skipped when
    its outputs exist (an interrupted run resumes).

    Args:
        args (argparse.Namespace): The options of ``tools/run_pipeline.py``
            (``preset``, ``work_dir``, ``data_root``, ``stop_after``,
            ``seed``, ``scene``, ``device``, ``amp``, ``crf_alphas``,
            ``skip_affinity``, ``figure_rows``, ``train_options``, and for
            the user's own recipe ``pipeline_config``, ``*_config``,
            ``label_split``, ``eval_split``; see
            :func:`~.recipe.build_recipe`).
    """

    def __init__(self, args) -> None:
        self.args = args
        self.p, self.name, from_preset = build_recipe(args)
        # the last step: --stop-after, else the recipe's
        latest = self.p.get('stop_after', 'stage2')
        self.stop = args.stop_after or latest
        if LAST_STEPS.index(self.stop) > LAST_STEPS.index(latest):
            raise ValueError(
                f'--stop-after {self.stop}: {self.name} has configs up to '
                f'the {latest} step only; pass --stop-after {latest} or '
                + ('use the synthetic preset' if from_preset else
                   'add the configs of the later steps'))
        self.work = osp.abspath(args.work_dir or self.p['work_dir'])
        self.data_root = osp.abspath(args.data_root or self.p['data_root'])
        # relative paths in the preset configs (e.g. ``pretrained/``) are
        # relative to the checkout, the user's to the current directory
        self.cwd = (repo_root() if from_preset else None) or os.getcwd()
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
        """The absolute path of a recipe's config (a preset's are relative
        to the repository)."""
        return cfg if osp.isabs(cfg) else package_file(cfg)

    # ------------------------------------------------------------ data
    def data_opts(self, *keys) -> list:
        """``--cfg-options`` pointing the dataloaders ``keys`` at the data
        root."""
        return [f'{k}.dataset.data_root={self.data_root}' for k in keys]

    def metainfo(self) -> dict:
        """``classes`` (index 0: background) and ``palette`` of the data
        set, as the SEAM config's dataset reads them."""
        meta = self.split_dataset(self.p['label_split'])[0].metainfo
        palette = meta.get('palette')
        return dict(
            classes=tuple(meta['classes']),
            palette=None if palette is None else [list(c) for c in palette])

    def check_synthetic_data(self, wanted: dict) -> None:
        """See :func:`~.state.check_synthetic_data`."""
        check_synthetic_data(self.data_root, wanted)

    def prepare_data(self) -> None:
        """Generate the synthetic set (synthetic recipes), or check that
        the data root exists."""
        if self.p['data'] is not None:  # a synthetic preset
            from mmseam.datasets.synthetic import (SCENE_FAMILIES,
                                                   make_synthetic_voc)
            scene = getattr(self.args, 'scene', None) or 'default'
            seed = getattr(self.args, 'seed', None)
            style = SCENE_FAMILIES[scene]
            if not osp.isfile(osp.join(self.data_root, 'metainfo.json')):
                log(f'data: generating the synthetic set ({scene} scenes, '
                    f'seed {seed or 0}) in {self.data_root}')
                make_synthetic_voc(
                    self.data_root, seed=seed or 0, **self.p['data'],
                    **style)
            else:
                # a set passed with --data-root may have any size; the scene
                # family and the seed asked for must match
                wanted = {} if self.args.data_root else dict(self.p['data'])
                wanted.update({
                    k: list(v) if isinstance(v, tuple) else v
                    for k, v in style.items()
                })
                if seed is not None:
                    wanted['seed'] = seed
                self.check_synthetic_data(wanted)
                log(f'data: using {self.data_root}')
        elif not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f'data root {self.data_root} ({self.name}) does not exist: '
                'pass --data-root (for the voc preset, download PASCAL VOC '
                '2012 + SBD as docs/pipeline.md says)')
        else:
            log(f'data: using {self.data_root}')

    def pseudo_labels(self, seam_out: str, init_opts) -> str:
        """CRF (and, when configured, AffinityNet + random walk) of the
        SEAM CAMs; returns the folder of the labels stage 2 learns from:
        the random-walk labels when they keep the confident CRF pixels, else
        the CRF labels (:func:`choose_stage2_labels`)."""
        from ..crf import crf_output_dirs
        with_affinity = bool(self.p['affinity']) and not getattr(
            self.args, 'skip_affinity', False) and self.stop != 'crf'
        crf = self.crf(seam_out, with_affinity)
        crf_dir = crf_output_dirs(crf['root'], crf['alpha'])[1]
        if not with_affinity:
            return crf_dir
        rw_dir = self.affinity_rw(seam_out, crf['root'], crf['alpha'],
                                  init_opts)
        la, ha = self.args.crf_alphas
        choice = choose_stage2_labels(
            crf_dir, rw_dir,
            crf_output_dirs(crf['root'], la)[1],
            crf_output_dirs(crf['root'], ha)[1],
            self.split_ids(self.p['label_split']))
        self.results['stage2_labels'] = dict(
            source=choice['source'],
            seed_agreement=choice['seed_agreement'],
            min_agreement=choice['min_agreement'])
        self.save_results()
        log(f'labels: the random walk keeps {choice["seed_agreement"]:.3f} '
            f'of the confident CRF pixels (at least '
            f'{choice["min_agreement"]} needed): stage 2 learns from the '
            f'{"random-walk" if choice["source"] == "rw" else "CRF"} labels')
        return choice['dir']

    # ------------------------------------------------------------- run
    def run(self) -> None:
        """Run every step up to ``--stop-after`` and write the report."""
        t_start = time.time()
        self.prepare_data()
        self._state.classes = list(self.metainfo()['classes'])
        log(f'recipe: {self.name}; work dir {self.work}; classes '
            f'{", ".join(self._state.classes[1:])}')
        data_opts = self.data_opts('train_dataloader', 'val_dataloader',
                                   'test_dataloader')
        # every later stage starts from the pretraining stand-in
        init_opts = []
        if self.p['pretrain']:
            pre_ckpt = self.pretrain(data_opts)
            init_opts = [f'model.backbone.init_cfg.checkpoint={pre_ckpt}']
        # CAM baseline (when configured) and SEAM: same backbone init and
        # schedule
        names = [n for n in ('cam', 'seam') if self.p[n]]
        ckpts = {
            name: self.train(name, self.p[name], data_opts + init_opts)
            for name in names
        }
        cam_dirs = {
            name: self.infer(name, self.p[name], ckpt)
            for name, ckpt in ckpts.items()
        }
        self.score_cams(cam_dirs)
        seam_out = cam_dirs['seam']
        # AffinityNet and stage 2 start from the pretraining, or from SEAM's
        # backbone (the recipe's downstream_init)
        if self.p.get('downstream_init') == 'seam':
            init_opts = [f'model.backbone.init_cfg.checkpoint={ckpts["seam"]}']
        pseudo_dir = self.pseudo_labels(seam_out, init_opts)
        seg_cfg = seg_ckpt = None
        if self.stop == 'stage2':
            seg_cfg, seg_ckpt = self.stage2(pseudo_dir, data_opts, init_opts)
        self.timings['total'] = round(time.time() - t_start, 1)
        self.save_results()
        self.report(cam_dirs, pseudo_dir, seg_cfg, seg_ckpt)
