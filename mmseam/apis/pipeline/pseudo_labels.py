# Copyright (c) mmseam contributors. All rights reserved.
"""The pseudo-label steps: multi-scale CAM inference, scoring against the
masks, dense CRF, AffinityNet random walk."""
import json
import os.path as osp
import sys
import time

from .common import alpha_for_threshold, log, run_logged
from .presets import package_file


class PseudoLabelSteps:
    """Mixin of :class:`Pipeline`: from trained classifiers to scored
    pseudo labels."""

    def infer(self, name: str, cfg: str, ckpt: str) -> str:
        """Multi-scale + flip CAMs of the label split (resumable) into
        ``<work>/<name>_cams``; returns that folder."""
        from mmengine.registry import init_default_scope
        from mmseg.apis import init_model

        from ..cam_inference import default_cam_amp, infer_cams
        init_default_scope('mmseg')
        out = osp.join(self.work, f'{name}_cams')
        dataset, c = self.label_dataset(cfg)
        model = init_model(c, ckpt, device=self.device)
        tc = model.test_cfg
        log(f'{name}: multi-scale CAM inference on {len(dataset)} images '
            f'(scales {tuple(tc["scales"])}, flip {tc["flip"]}) -> {out}')
        t0 = time.time()
        # bf16 where asked (--amp) or native on the CPU, unless --fp32-cams
        amp = default_cam_amp(self.device, getattr(self.args, 'amp', False),
                              getattr(self.args, 'fp32_cams', False))
        res = infer_cams(
            model,
            dataset,
            out,
            scales=tc['scales'],
            flip=tc['flip'],
            amp_dtype=amp,
            num_workers=self.p['infer_workers'])
        if res['written']:
            self.timings[f'infer_{name}'] = round(time.time() - t0, 1)
        return out

    def evaluate(self, pred_dir: str, type: str) -> dict:
        """Score CAMs (``type='cam'``, background threshold sweep) or label
        PNGs (``'png'``) of the scored split against its masks."""
        from mmseam.evaluation.pseudo_label_eval import evaluate_pseudo_labels
        meta = self.metainfo()
        return evaluate_pseudo_labels(
            pred_dir,
            self.mask_dir(self.eval_split),
            self.split_ids(self.eval_split),
            num_classes=len(meta['classes']),
            type=type,
            class_names=meta['classes'],
            logger='silent')

    def per_class(self, r: dict) -> dict:
        """``{class name: IoU (%)}`` of an ``evaluate`` result."""
        names = self.metainfo()['classes']
        return {n: float(v) for n, v in zip(names, r['IoU'])}

    def score_labels(self, key: str, pred_dir: str, **extra) -> None:
        """Score the label PNGs in ``pred_dir`` into ``results[key]``
        (mIoU None without masks)."""
        if not self.scored:
            self.results[key] = dict(mIoU=None, IoU=None, **extra)
            return
        r = self.evaluate(pred_dir, 'png')
        self.results[key] = dict(
            mIoU=r['mIoU'], **extra, IoU=self.per_class(r))

    def config_threshold(self, name: str) -> float:
        """``model.test_cfg.bg_threshold`` of a stage's config."""
        from mmengine.config import Config
        path = self.config_path(self.p[name])
        t = (Config.fromfile(path).model.get('test_cfg')
             or {}).get('bg_threshold')
        if t is None:
            raise ValueError(
                f'{path}: model.test_cfg.bg_threshold is not set; without '
                'masks to sweep the background threshold on, the pipeline '
                'uses this value: set it in the config.')
        return float(t)

    def score_cams(self, cam_dirs: dict) -> None:
        """Score the CAMs of each trained classifier (``{name: folder}``)
        at their best background threshold; without masks, record the
        config's threshold instead."""
        for name, out in cam_dirs.items():
            if not self.scored:
                t = self.config_threshold(name)
                self.results[f'{name}_cam'] = dict(
                    mIoU=None, bg_threshold=t, threshold_from='config',
                    IoU=None)
                log(f'{name}: no masks for the scored images '
                    f'({self.mask_dir(self.eval_split)}): no background '
                    f'threshold sweep; the config\'s bg_threshold {t:.2f} '
                    f'(model.test_cfg of {self.p[name]}) is used')
                continue
            r = self.evaluate(osp.join(out, 'cams'), 'cam')
            self.results[f'{name}_cam'] = dict(
                mIoU=r['mIoU'], bg_threshold=r['best_bg_threshold'],
                IoU=self.per_class(r))
            log(f'{name}: CAM pseudo labels mIoU {r["mIoU"]:.2f} '
                f'(best background threshold {r["best_bg_threshold"]:.2f})')
        self.save_results()

    def crf(self, seam_out: str, with_affinity: bool) -> dict:
        """Dense CRF of the SEAM CAMs at the background power matching the
        SEAM CAMs' threshold (and, for AffinityNet, the low and high
        powers ``--crf-alphas``); scores the matching one.

        Returns:
            dict: ``root`` (the CRF output folder), ``alpha`` (the matching
            power) and ``alphas`` (all powers written).
        """
        from ..crf import CRFConfig, crf_output_dirs, refine_split
        best_t = self.results['seam_cam']['bg_threshold']
        alpha_best = round(alpha_for_threshold(best_t), 2)
        la, ha = self.args.crf_alphas
        # the low/high powers only feed AffinityNet
        alphas = sorted({la, ha, alpha_best} if with_affinity else
                        {alpha_best})
        split = self.p['label_split']
        ids = self.split_ids(split)
        img_dir, img_suffix = self.image_dir(split)
        crf_root = osp.join(seam_out, 'crf')
        which = 'best' if self.scored else 'config\'s'
        log(f'crf: alphas {alphas} ({alpha_best} matches the {which} '
            f'threshold {best_t:.2f}' +
            (f'; la {la}, ha {ha}' if with_affinity else '') +
            f') on {len(ids)} images')
        t0 = time.time()
        res = refine_split(
            ids,
            osp.join(seam_out, 'cams'),
            img_dir,
            crf_root,
            alphas=alphas,
            palette=self.metainfo().get('palette'),
            crf_cfg=CRFConfig(),
            workers=self.p['crf_workers'],
            img_suffix=img_suffix)
        if res['processed']:
            self.timings['crf'] = round(time.time() - t0, 1)
        self.score_labels(
            'seam_crf', crf_output_dirs(crf_root, alpha_best)[1],
            alpha=alpha_best)
        if self.scored:
            log(f'crf: SEAM + CRF pseudo labels mIoU '
                f'{self.results["seam_crf"]["mIoU"]:.2f}')
        self.save_results()
        return dict(root=crf_root, alpha=alpha_best, alphas=alphas)

    def affinity_options(self, crf_root: str, init_opts) -> list:
        """``--cfg-options`` of the AffinityNet training: data root, the
        low/high-power CRF scores, the initialisation."""
        from mmengine.config import Config

        from ..crf import crf_output_dirs
        la, ha = self.args.crf_alphas
        path = self.config_path(self.p['affinity'])
        steps = Config.fromfile(path).train_dataloader.dataset.pipeline
        index = [
            i for i, t in enumerate(steps) if t.get('type') == 'LoadCRFScores'
        ]
        if not index:
            raise ValueError(f'{path}: train_dataloader.dataset.pipeline has '
                             'no LoadCRFScores step to read the CRF labels; '
                             'add dict(type=\'LoadCRFScores\') after '
                             'LoadImageFromFile.')
        key = f'train_dataloader.dataset.pipeline.{index[0]}'
        return [
            f'train_dataloader.dataset.data_root={self.data_root}',
            f'rw_dataloader.dataset.data_root={self.data_root}',
            f'{key}.la_dir={crf_output_dirs(crf_root, la)[0]}',
            f'{key}.ha_dir={crf_output_dirs(crf_root, ha)[0]}',
        ] + list(init_opts)

    def affinity_rw(self, seam_out: str, crf_root: str, alpha_best: float,
                    init_opts) -> str:
        """Train AffinityNet on the low/high-power CRF labels and random-walk
        the SEAM CAMs with it; returns the random-walk label folder."""
        from ..crf import crf_output_dirs
        aff_opts = self.affinity_options(crf_root, init_opts)
        aff_ckpt = self.train('affinity', self.p['affinity'], aff_opts)
        rw_out = osp.join(seam_out, 'rw')
        rw_alpha = alpha_best if self.p.get('rw_alpha') == 'match' else \
            self.p.get('rw_alpha')
        rw_args = [] if rw_alpha is None else ['--alpha', str(rw_alpha)]
        split = self.p['label_split']
        if split:
            rw_args += ['--split', split]
        if self.scored:
            # the affinities and their CRF pair labels against the masks
            la, ha = self.args.crf_alphas
            rw_args += [
                '--affinity-check', self.mask_dir(split), '--crf-dirs',
                crf_output_dirs(crf_root, la)[0],
                crf_output_dirs(crf_root, ha)[0]
            ]
        log(f'rw: random walk of the SEAM CAMs -> {rw_out}')
        t0 = time.time()
        run_logged([
            sys.executable,
            package_file('tools/infer_random_walk.py'),
            self.config_path(self.p['affinity']), aff_ckpt, '--cam-dir',
            osp.join(seam_out, 'cams'), '--out-dir', rw_out, *rw_args,
            '--cfg-options', *aff_opts[:2]
        ], osp.join(self.work, 'rw.log'), cwd=self.cwd)
        self.timings.setdefault('rw', round(time.time() - t0, 1))
        self.score_labels(
            'seam_rw', rw_out, alpha=6 if rw_alpha is None else rw_alpha)
        check = osp.join(rw_out, 'affinity_check.json')
        if self.scored and osp.isfile(check):
            with open(check) as f:
                pairs = json.load(f)
            pairs.pop('counts', None)
            self.results['affinity_pairs'] = pairs
            share = {
                k: '-' if v is None else f'{v:.3f}'
                for k, v in pairs.items()
            }
            log(f'rw: AffinityNet cuts {share["boundary_recall"]} of the '
                f'boundary pairs and keeps {share["object_recall"]} of the '
                'pairs within one object; its CRF pair labels mark '
                f'{share["label_boundary_coverage"]} of the boundary pairs '
                f'negative, {share["label_object_coverage"]} of the object '
                'pairs positive')
        if self.scored:
            log(f'rw: SEAM + AffinityNet random-walk pseudo labels mIoU '
                f'{self.results["seam_rw"]["mIoU"]:.2f}')
        self.save_results()
        return rw_out
