# Copyright (c) mmseam contributors. All rights reserved.
"""The whole weakly supervised pipeline, one step after another.

    python tools/run_pipeline.py --preset synthetic --work-dir work_dirs/demo

Steps (each skipped when its outputs exist, so an interrupted run resumes):

1. data: generate the synthetic VOC-layout set (synthetic presets only);
2. pretrain: a plain CAM classifier (synthetic stand-in for ImageNet),
   scored per class (image-label AP on the label split) and, where the
   preset asks (``pretrain_extend``), trained on while a class is not
   learned yet;
3. cam / seam: train the CAM baseline and SEAM (same backbone + schedule);
4. infer: multi-scale + flip CAMs of the training images for both;
5. crf: dense CRF of the SEAM CAMs (the power matching the best background
   threshold, and the low/high powers AffinityNet learns from);
6. affinity: train AffinityNet on the CRF labels, random-walk the CAMs;
7. stage2: train DeepLab-v1 LargeFOV on the random-walk pseudo labels and
   validate it on held-out images with real masks;
8. report: a results table (``results.md``/``results.json``) and a figure
   (``figure.png``: image | ground truth | CAM | pseudo label | stage 2).

``--stop-after crf`` (or ``rw``) ends the chain after that step: the pseudo
labels and the table of their scores, without the later trainings. The
``synthetic-small`` preset (the same recipe at test size, which the suite
runs to check the measured claim) stops after the CRF.

The ``voc`` preset runs the same chain with the real VOC configs
(ResNet38d, ``data/VOCdevkit/VOC2012``); it needs a GPU machine and the
converted ImageNet ResNet38 weights (see README).
"""
import argparse
import json
import math
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import mmseam  # noqa: E402,F401

PRESETS = dict(
    synthetic=dict(
        data_root='data/synthetic_voc',
        work_dir='work_dirs/demo',
        pretrain='configs/seam/cls_tinycnn_1xb16-15e_synthvoc-224x224.py',
        cam='configs/seam/cam_tinycnn_1xb8-12e_synthvoc-224x224.py',
        seam='configs/seam/seam_tinycnn_1xb8-12e_synthvoc-224x224.py',
        affinity='configs/affinity/affinitynet_tinycnn_1xb8-4e_synthvoc-'
        '224x224.py',
        stage2='configs/deeplab/deeplabv1-largefov_tinycnn_1xb8-6e_synthvoc-'
        'pseudo-224x224.py',
        label_split='train',  # images that get pseudo labels
        eval_split='train',  # images whose pseudo labels are scored
        # data set and schedule sized for ~20 minutes on 2 CPU cores
        data=dict(num_train=320, num_val=60, image_size=224),
        epochs=dict(pretrain=15, cam=12, seam=12, affinity=3, stage2=4),
        # the pretraining's per-class AP is logged; it does not train on
        # while a class is unlearned (e.g. dict(step=5, max_epochs=30)
        # would): the eight-block CAM baseline and SEAM learn every class
        # in their own schedule (README, "Known gaps", session 10)
        pretrain_extend=None,
        crf_workers=2,
        infer_workers=0,
        # random-walk background power: the one matching the SEAM CAMs' best
        # threshold (as for the CRF); the official alpha 6 crosses at 0.24
        # and turns these CAMs (best threshold ~0.01) into background
        rw_alpha='match'),
    voc=dict(
        data_root='data/VOCdevkit/VOC2012',
        work_dir='work_dirs/voc',
        pretrain=None,  # ImageNet ResNet38 (converted) is the pretraining
        cam='configs/seam/cam_wr38d_1xb8-8e_voc12aug-448x448.py',
        seam='configs/seam/seam_wr38d_1xb8-8e_voc12aug-448x448.py',
        affinity='configs/affinity/affinitynet_wr38d_1xb8-8e_voc12aug-'
        '448x448.py',
        stage2='configs/deeplab/deeplabv1-largefov_wr38d_2xb5-20k_voc12aug-'
        'pseudo-448x448.py',
        label_split='train_aug',
        eval_split='train',  # 1,464 images with fine masks (official)
        data=None,
        epochs={},  # the configs' own schedules
        pretrain_extend=None,
        crf_workers=8,
        infer_workers=4,
        rw_alpha=None),  # the official SEAM preset (alpha 6)
)
# The synthetic recipe at test size, up to the CRF pseudo labels: 192 px
# images and crops, 160 training images at half the batch (the demo's number
# of steps at less than half its compute). The suite runs it to check the
# measured claim (tests/test_tools/test_run_pipeline_claim.py; ~5 minutes on
# 2 CPU cores).
PRESETS['synthetic-small'] = dict(
    PRESETS['synthetic'],
    data_root='data/synthetic_voc_small',
    work_dir='work_dirs/demo_small',
    pretrain='configs/seam/cls_tinycnn_1xb8-15e_synthvoc-192x192.py',
    cam='configs/seam/cam_tinycnn_1xb4-12e_synthvoc-192x192.py',
    seam='configs/seam/seam_tinycnn_1xb4-12e_synthvoc-192x192.py',
    affinity=None,
    stage2=None,
    stop_after='crf',  # the last step it has configs for
    data=dict(num_train=160, num_val=2, image_size=192),
    epochs=dict(pretrain=15, cam=12, seam=12))

#: The steps ``--stop-after`` can name, in order.
LAST_STEPS = ('crf', 'rw', 'stage2')


#: Below this image-label AP (on the label split) a class counts as not
#: learned by the pretraining stand-in (a learned class is ranked perfectly,
#: AP 1.00; an unlearned one stays near its frequency, ~0.3).
PRETRAIN_MIN_AP = 0.9


def parse_opts(opts) -> dict:
    """``['a.b=1', 'c=x']`` -> ``{'a.b': 1, 'c': 'x'}`` as --cfg-options."""
    from mmengine.config import DictAction
    ns = argparse.Namespace()
    DictAction(option_strings=[], dest='opts')(None, ns, list(opts))
    return ns.opts or {}


def log(msg: str) -> None:
    print(f'[{time.strftime("%H:%M:%S")}] {msg}', flush=True)


def alpha_for_threshold(t: float) -> float:
    """Background power whose CRF unary matches a background threshold.

    Background wins where ``(1 - m)^alpha > m``; at ``m = t`` both are equal,
    so ``alpha = ln t / ln(1 - t)`` (spec 1.4: 4 <-> 0.2755, 24 <-> 0.094).
    """
    t = min(max(t, 0.01), 0.95)
    return math.log(t) / math.log(1 - t)


class Pipeline:

    def __init__(self, args):
        self.args = args
        self.p = dict(PRESETS[args.preset])
        # the last step: --stop-after, else the preset's
        latest = self.p.get('stop_after', 'stage2')
        self.stop = args.stop_after or latest
        if LAST_STEPS.index(self.stop) > LAST_STEPS.index(latest):
            raise ValueError(
                f'--stop-after {self.stop}: the {args.preset} preset has '
                f'configs up to the {latest} step only; pass --stop-after '
                f'{latest} or use the synthetic preset')
        self.work = osp.abspath(args.work_dir or self.p['work_dir'])
        self.data_root = osp.abspath(args.data_root or self.p['data_root'])
        os.makedirs(self.work, exist_ok=True)
        self.results = {}
        self.timings = {}
        self.results_path = osp.join(self.work, 'results.json')
        if osp.isfile(self.results_path):
            with open(self.results_path) as f:
                saved = json.load(f)
            self.results = saved.get('results', {})
            self.timings = saved.get('seconds', {})

    # ------------------------------------------------------------ helpers
    def save_results(self):
        from mmseam.apis import atomic_write
        blob = json.dumps(
            dict(results=self.results, seconds=self.timings), indent=2)
        atomic_write(self.results_path, lambda f: f.write(blob.encode()))

    def data_opts(self, *keys):
        opts = []
        for k in keys:
            opts.append(f'{k}.dataset.data_root={self.data_root}')
        return opts

    def train(self, name: str, cfg: str, opts=(), epochs=None) -> str:
        """Train ``cfg`` into ``<work>/<name>`` (resumable); return ckpt.

        ``epochs`` overrides the preset's number of epochs for ``name``.
        """
        from mmengine.config import Config
        work_dir = osp.join(self.work, name)
        epochs = epochs or self.p['epochs'].get(name)
        if epochs:
            opts = list(opts) + [
                f'train_cfg.max_epochs={epochs}',
                f'param_scheduler.0.end={epochs}'
            ]
        # scored separately (multi-scale CAMs, pseudo labels, stage-2 test)
        opts = list(opts) + ['val_cfg=None', 'val_dataloader=None',
                             'val_evaluator=None']
        opts = list(opts) + list(self.args.train_options or [])
        c = Config.fromfile(osp.join(REPO, cfg))
        c.merge_from_dict(parse_opts(opts))
        max_epochs = c.train_cfg.get('max_epochs')
        final = osp.join(work_dir, f'epoch_{max_epochs}.pth') \
            if max_epochs else osp.join(
                work_dir, f'iter_{c.train_cfg.max_iters}.pth')
        self.check_same_model(name, work_dir, c.model)
        if osp.isfile(final):
            log(f'{name}: done already ({final})')
            return final
        cmd = [
            sys.executable,
            osp.join(REPO, 'tools/train.py'),
            osp.join(REPO, cfg), '--work-dir', work_dir, '--resume'
        ]
        if opts:
            cmd += ['--cfg-options', *opts]
        log(f'{name}: training {cfg} -> {work_dir} (log: {name}.log)')
        t0 = time.time()
        self._stream(cmd, osp.join(self.work, f'{name}.log'))
        # summed: the pretraining may train on in steps (pretrain_extend)
        key = f'train_{name}'
        self.timings[key] = round(
            self.timings.get(key, 0) + time.time() - t0, 1)
        if not osp.isfile(final):
            raise RuntimeError(f'{name}: training ended without {final}; see '
                               f'{osp.join(self.work, name + ".log")}')
        self.save_results()
        return final

    def check_same_model(self, name: str, work_dir: str, model) -> None:
        """Refuse a work dir whose checkpoints come from another model.

        The model config (initialisation paths left out) is fingerprinted
        into ``<work_dir>/model_cfg.sha1`` on first use. A work dir of an
        older recipe (e.g. a six-block ``TinyConvNet``) would otherwise be
        reported "done already" or resumed into a network it does not fit.
        """
        import hashlib

        def strip(x):
            if isinstance(x, dict):
                return {k: strip(v) for k, v in x.items() if k != 'init_cfg'}
            if isinstance(x, (list, tuple)):
                return [strip(v) for v in x]
            return x

        blob = json.dumps(strip(model.to_dict()), sort_keys=True, default=str)
        digest = hashlib.sha1(blob.encode()).hexdigest()
        stamp = osp.join(work_dir, 'model_cfg.sha1')
        fix = (f'delete {work_dir} (or pass another --work-dir) to train '
               f'{name} anew')
        if osp.isfile(stamp):
            with open(stamp) as f:
                if f.read().strip() != digest:
                    raise RuntimeError(
                        f'{name}: {work_dir} was trained with another model '
                        f'config than {self.p[name]} now gives (an older '
                        f'recipe?); {fix}')
            return
        if osp.isdir(work_dir) and any(
                n.endswith('.pth') for n in os.listdir(work_dir)):
            raise RuntimeError(
                f'{name}: {work_dir} holds checkpoints without '
                f'model_cfg.sha1 (made by an older mmseam, whose recipe may '
                f'differ); {fix}')
        from mmseam.apis import atomic_write
        os.makedirs(work_dir, exist_ok=True)
        atomic_write(stamp, lambda f: f.write(digest.encode()))

    def _stream(self, cmd, log_path):
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        with open(log_path, 'a') as logf:
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=REPO,
                env=env)
            for line in proc.stdout:
                logf.write(line)
                if ('(train)' in line or 'mIoU:' in line
                        or 'Error' in line or 'Traceback' in line):
                    print('    ' + line.rstrip()[-150:], flush=True)
            proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f'command failed ({proc.returncode}): '
                               f'{" ".join(cmd)}; see {log_path}')

    def check_synthetic_data(self, wanted: dict) -> None:
        """Refuse a synthetic set made by another generator version or with
        other sizes than the preset's (its numbers would not be comparable
        with the README's)."""
        from mmseam.datasets import synthetic
        path = osp.join(self.data_root, 'metainfo.json')
        try:
            with open(path) as f:
                meta = json.load(f)
        except json.JSONDecodeError as err:
            raise RuntimeError(
                f'{path} is not valid JSON ({err}); delete {self.data_root} '
                'to regenerate the synthetic set.') from err
        gen = meta.get('generator', {})
        diffs = []
        if meta.get('format_version') != synthetic._FORMAT_VERSION:
            diffs.append(f'format_version {meta.get("format_version")} != '
                         f'{synthetic._FORMAT_VERSION}')
        for key, value in wanted.items():
            if gen.get(key) != value:
                diffs.append(f'{key} {gen.get(key)} != {value}')
        if diffs:
            raise RuntimeError(
                f'{path}: this synthetic set does not match the preset '
                f'({"; ".join(diffs)}). Delete {self.data_root} to '
                'regenerate it (and the work dir, whose results came from '
                'the old set), or pass another --data-root.')

    def split_ids(self, split: str):
        path = osp.join(self.data_root, 'ImageSets', 'Segmentation',
                        f'{split}.txt')
        with open(path) as f:
            return [ln.split()[0] for ln in f if ln.strip()]

    def label_dataset(self, cfg_path: str):
        """The images to pseudo-label: test pipeline, the label split."""
        from mmengine.config import Config
        from mmseg.registry import DATASETS
        c = Config.fromfile(osp.join(REPO, cfg_path))
        ds = c.test_dataloader.dataset.copy()
        ds.update(
            data_root=self.data_root,
            ann_file=f'ImageSets/Segmentation/{self.p["label_split"]}.txt',
            with_seg_map=False,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='PackSegClsInputs')
            ])
        return DATASETS.build(ds), c

    def pretrain(self, data_opts) -> str:
        """Train the pretraining stand-in; while a class is not learned
        yet, train on (``pretrain_extend``). Returns the checkpoint."""
        cfg, grow = self.p['pretrain'], self.p.get('pretrain_extend')
        epochs = self.p['epochs'].get('pretrain')
        # every epoch's checkpoint is kept (~1 MB each) so that a rerun finds
        # each step's checkpoint where it left it
        opts = list(data_opts) + ['default_hooks.checkpoint.max_keep_ckpts=-1']
        ckpt = self.train('pretrain', cfg, opts, epochs=epochs)
        weak = self.check_pretraining(cfg, ckpt)
        while weak and grow and epochs and epochs < grow['max_epochs']:
            epochs = min(epochs + grow['step'], grow['max_epochs'])
            log(f'pretrain: {", ".join(weak)} not learned yet: training on '
                f'to epoch {epochs}')
            last, ckpt = ckpt, self.train('pretrain', cfg, opts, epochs=epochs)
            if ckpt == last:  # e.g. --train-options fixed the epochs
                break
            weak = self.check_pretraining(cfg, ckpt)
        if weak and grow:
            log(f'WARNING: the pretraining run has not learned '
                f'{", ".join(weak)} (AP < {PRETRAIN_MIN_AP}): the CAM '
                f'baseline and SEAM start without these classes, and their '
                f'numbers swing between seeds (README, "Known gaps").')
        elif weak:
            log(f'pretrain: not learned by the stand-in: {", ".join(weak)} '
                f'(AP < {PRETRAIN_MIN_AP}); the CAM baseline and SEAM start '
                f'from it all the same and learn them in their own schedule')
        return ckpt

    def check_pretraining(self, cfg: str, ckpt: str) -> list:
        """Per-class AP of the pretraining run's classifier on the label
        split; returns the classes it has not learned (AP below
        ``PRETRAIN_MIN_AP``).

        A from-scratch classifier with max pooling can end its schedule
        with a class still unlearned (its scores flat); the CAM baseline and
        SEAM then start without that class and their numbers swing by
        several points between seeds (README, "Known gaps").
        """
        from mmengine.registry import init_default_scope
        from mmseg.apis import init_model

        from mmseam.apis import class_average_precision, image_label_scores
        saved = self.results.setdefault('pretrain_ap', {})
        key = osp.basename(ckpt)
        mtime = int(osp.getmtime(ckpt))  # a retrained checkpoint is rescored
        if saved.get(key, {}).get('mtime') == mtime:
            ap = saved[key]['per_class']
        else:
            init_default_scope('mmseg')
            dataset, c = self.label_dataset(cfg)
            model = init_model(c, ckpt, device=self.args.device)
            scores, labels = image_label_scores(model, dataset)
            names = self.metainfo()['classes'][1:]
            ap = {
                n: round(float(v), 4)
                for n, v in zip(names, class_average_precision(
                    scores, labels))
            }
            saved[key] = dict(mtime=mtime, per_class=ap)
            self.save_results()
        log(f'pretrain: image-label AP per class of {key} on the '
            f'{self.p["label_split"]} images: ' +
            ', '.join(f'{n} {v:.2f}' for n, v in ap.items()))
        # (a class without a positive image has AP nan: nothing to learn)
        return [n for n, v in ap.items() if v < PRETRAIN_MIN_AP]

    def infer(self, name: str, cfg: str, ckpt: str) -> str:
        import torch
        from mmengine.registry import init_default_scope
        from mmseg.apis import init_model

        from mmseam.apis import infer_cams
        init_default_scope('mmseg')
        out = osp.join(self.work, f'{name}_cams')
        dataset, c = self.label_dataset(cfg)
        model = init_model(c, ckpt, device=self.args.device)
        tc = model.test_cfg
        log(f'{name}: multi-scale CAM inference on {len(dataset)} images '
            f'(scales {tuple(tc["scales"])}, flip {tc["flip"]}) -> {out}')
        t0 = time.time()
        amp = torch.bfloat16 if (self.args.amp and self.args.device.startswith(
            'cuda')) else None
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

    def evaluate(self, pred_dir: str, type: str, split: str) -> dict:
        from mmseam.evaluation.pseudo_label_eval import evaluate_pseudo_labels
        meta = self.metainfo()
        gt_dir = osp.join(self.data_root, 'SegmentationClass')
        return evaluate_pseudo_labels(
            pred_dir,
            gt_dir,
            self.split_ids(split),
            num_classes=len(meta['classes']),
            type=type,
            class_names=meta['classes'],
            logger='silent')

    def per_class(self, r: dict) -> dict:
        """``{class name: IoU (%)}`` of an ``evaluate`` result."""
        names = self.metainfo()['classes']
        return {n: float(v) for n, v in zip(names, r['IoU'])}

    def metainfo(self) -> dict:
        from mmseam.apis import load_metainfo
        path = osp.join(self.data_root, 'metainfo.json')
        if osp.isfile(path):
            return load_metainfo(path)
        return load_metainfo(osp.join(REPO, self.p['seam']))

    # --------------------------------------------------------------- run
    def run(self):
        a, p = self.args, self.p
        t_start = time.time()
        # 1. data
        if p['data'] is not None:  # a synthetic preset
            if not osp.isfile(osp.join(self.data_root, 'metainfo.json')):
                from mmseam.datasets.synthetic import make_synthetic_voc
                log(f'data: generating the synthetic set in {self.data_root}')
                make_synthetic_voc(self.data_root, seed=a.seed, **p['data'])
            else:
                # a set passed with --data-root may have any size
                self.check_synthetic_data(
                    {} if a.data_root else p['data'])
                log(f'data: using {self.data_root}')
        elif not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f'VOC data root {self.data_root} does not exist: download '
                f'PASCAL VOC 2012 + SBD (README, "Real VOC") or pass '
                f'--data-root')
        loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
        data_opts = self.data_opts(*loaders)

        # 2. pretraining stand-in
        init_opts = []
        pre_ckpt = None
        if p['pretrain']:
            pre_ckpt = self.pretrain(data_opts)
            init_opts = [f'model.backbone.init_cfg.checkpoint={pre_ckpt}']

        # 3. CAM baseline and SEAM, same backbone init and schedule
        cam_ckpt = self.train('cam', p['cam'], data_opts + init_opts)
        seam_ckpt = self.train('seam', p['seam'], data_opts + init_opts)

        # 4. CAMs of the training images, scored on their masks
        cam_out = self.infer('cam', p['cam'], cam_ckpt)
        seam_out = self.infer('seam', p['seam'], seam_ckpt)
        split = p['label_split']
        eval_split = p['eval_split']
        for name, out in (('cam', cam_out), ('seam', seam_out)):
            r = self.evaluate(osp.join(out, 'cams'), 'cam', eval_split)
            self.results[f'{name}_cam'] = dict(
                mIoU=r['mIoU'], bg_threshold=r['best_bg_threshold'],
                IoU=self.per_class(r))
            log(f'{name}: CAM pseudo labels mIoU {r["mIoU"]:.2f} '
                f'(best background threshold {r["best_bg_threshold"]:.2f})')
        self.save_results()

        # 5. dense CRF on the SEAM CAMs
        from mmseam.apis import CRFConfig, crf_output_dirs, refine_split
        best_t = self.results['seam_cam']['bg_threshold']
        alpha_best = round(alpha_for_threshold(best_t), 2)
        la, ha = a.crf_alphas
        # the low/high powers only feed AffinityNet
        with_affinity = not a.skip_affinity and self.stop != 'crf'
        alphas = sorted({la, ha, alpha_best} if with_affinity else
                        {alpha_best})
        img_dir = osp.join(self.data_root, 'JPEGImages')
        ids = self.split_ids(split)
        meta = self.metainfo()
        crf_root = osp.join(seam_out, 'crf')
        log(f'crf: alphas {alphas} ({alpha_best} matches the best threshold '
            f'{best_t:.2f}' + (f'; la {la}, ha {ha}' if with_affinity else '')
            + f') on {len(ids)} images')
        t0 = time.time()
        res = refine_split(
            ids,
            osp.join(seam_out, 'cams'),
            img_dir,
            crf_root,
            alphas=alphas,
            palette=meta.get('palette'),
            crf_cfg=CRFConfig(),
            workers=p['crf_workers'])
        if res['processed']:
            self.timings['crf'] = round(time.time() - t0, 1)
        r = self.evaluate(
            crf_output_dirs(crf_root, alpha_best)[1], 'png', eval_split)
        self.results['seam_crf'] = dict(
            mIoU=r['mIoU'], alpha=alpha_best, IoU=self.per_class(r))
        log(f'crf: SEAM + CRF pseudo labels mIoU {r["mIoU"]:.2f}')
        self.save_results()

        # 6. AffinityNet + random walk
        pseudo_dir = crf_output_dirs(crf_root, alpha_best)[1]
        if with_affinity:
            la_dir, _ = crf_output_dirs(crf_root, la)
            ha_dir, _ = crf_output_dirs(crf_root, ha)
            aff_opts = [
                f'train_dataloader.dataset.data_root={self.data_root}',
                f'rw_dataloader.dataset.data_root={self.data_root}',
                f'train_dataloader.dataset.pipeline.1.la_dir={la_dir}',
                f'train_dataloader.dataset.pipeline.1.ha_dir={ha_dir}',
            ] + init_opts
            aff_ckpt = self.train('affinity', p['affinity'], aff_opts)
            rw_out = osp.join(seam_out, 'rw')
            rw_alpha = alpha_best if p.get('rw_alpha') == 'match' else \
                p.get('rw_alpha')
            rw_args = [] if rw_alpha is None else ['--alpha', str(rw_alpha)]
            log(f'rw: random walk of the SEAM CAMs -> {rw_out}')
            t0 = time.time()
            self._stream([
                sys.executable,
                osp.join(REPO, 'tools/infer_random_walk.py'),
                osp.join(REPO, p['affinity']), aff_ckpt, '--cam-dir',
                osp.join(seam_out, 'cams'), '--out-dir', rw_out, '--split',
                split, *rw_args, '--cfg-options', *aff_opts[:2]
            ], osp.join(self.work, 'rw.log'))
            self.timings.setdefault('rw', round(time.time() - t0, 1))
            r = self.evaluate(rw_out, 'png', eval_split)
            self.results['seam_rw'] = dict(
                mIoU=r['mIoU'], alpha=6 if rw_alpha is None else rw_alpha,
                IoU=self.per_class(r))
            log(f'rw: SEAM + AffinityNet random-walk pseudo labels mIoU '
                f'{r["mIoU"]:.2f}')
            pseudo_dir = rw_out
            self.save_results()
        if self.stop != 'stage2':
            self.timings['total'] = round(time.time() - t_start, 1)
            self.save_results()
            self.report(cam_out, seam_out, pseudo_dir, None, None)
            return

        # 7. stage 2 on the pseudo labels
        seg_opts = data_opts + init_opts + [
            'train_dataloader.dataset.data_prefix.seg_map_path=' + pseudo_dir
        ]
        seg_ckpt = self.train('stage2', p['stage2'], seg_opts)
        from tools import test as test_tool
        cfg_dump = osp.join(self.work, 'stage2_test_cfg.py')
        from mmengine.config import Config
        c = Config.fromfile(osp.join(REPO, p['stage2']))
        c.merge_from_dict(parse_opts(seg_opts))
        c.dump(cfg_dump)
        metrics = test_tool.main([
            cfg_dump, seg_ckpt, '--work-dir',
            osp.join(self.work, 'stage2_test')
        ])
        self.results['stage2_val'] = dict(mIoU=float(metrics['mIoU']))
        log(f'stage2: val mIoU {metrics["mIoU"]:.2f}')
        self.timings['total'] = round(time.time() - t_start, 1)
        self.save_results()

        # 8. report
        self.report(cam_out, seam_out, pseudo_dir, c, seg_ckpt)

    def report(self, cam_out, seam_out, pseudo_dir, seg_cfg, seg_ckpt):
        import numpy as np
        from mmengine.registry import init_default_scope
        from mmseg.apis import inference_model, init_model

        from mmseam.apis import (atomic_write, cam_heatmap, colorize_label,
                                 load_cam, load_label_png, load_rgb,
                                 save_grid)
        r = self.results
        split = self.p['eval_split']
        rows = [
            ('CAM baseline (multi-scale CAM, best bg threshold)',
             r['cam_cam']['mIoU'], f'{split}',
             f'bg thr {r["cam_cam"]["bg_threshold"]:.2f}'),
            ('SEAM (PCM output, best bg threshold)', r['seam_cam']['mIoU'],
             split, f'bg thr {r["seam_cam"]["bg_threshold"]:.2f}'),
            ('SEAM + dense CRF', r['seam_crf']['mIoU'], split,
             f'alpha {r["seam_crf"]["alpha"]}'),
        ]
        if 'seam_rw' in r:
            rows.append(('SEAM + AffinityNet random walk',
                         r['seam_rw']['mIoU'], split,
                         f'alpha {r["seam_rw"].get("alpha", 6)}, beta 8, '
                         'logt 6'))
        if seg_ckpt is not None:
            rows.append(('Stage 2: DeepLab-v1 LargeFOV on the pseudo labels',
                         r['stage2_val']['mIoU'], 'val (held out)', ''))
        lines = [
            '| step | mIoU (%) | images | note |', '|---|---|---|---|'
        ] + [f'| {a} | {b:.2f} | {c} | {d} |' for a, b, c, d in rows]
        table = '\n'.join(lines)
        print('\n' + table + '\n', flush=True)
        md = osp.join(self.work, 'results.md')
        atomic_write(md, lambda f: f.write((table + '\n').encode()))

        # figure: image | GT | CAM | pseudo label | stage-2 prediction (when
        # stage 2 ran)
        init_default_scope('mmseg')
        meta = self.metainfo()
        palette = meta.get('palette')
        seg_model = None if seg_ckpt is None else init_model(
            seg_cfg, seg_ckpt, device=self.args.device)
        grid = []
        ids = self.split_ids(split)[:self.args.figure_rows]
        for img_id in ids:
            img_path = osp.join(self.data_root, 'JPEGImages', f'{img_id}.jpg')
            img = load_rgb(img_path)
            gt = load_label_png(
                osp.join(self.data_root, 'SegmentationClass',
                         f'{img_id}.png'))
            cams, _ = load_cam(osp.join(seam_out, 'cams', f'{img_id}.npz'))
            pseudo = load_label_png(osp.join(pseudo_dir, f'{img_id}.png'))
            cams_base, _ = load_cam(
                osp.join(cam_out, 'cams', f'{img_id}.npz'))
            row = [
                img,
                colorize_label(gt, palette),
                cam_heatmap(img, cams_base),
                cam_heatmap(img, cams),
                colorize_label(pseudo, palette)
            ]
            if seg_model is not None:
                pred = inference_model(seg_model, img_path)
                row.append(
                    colorize_label(
                        pred.pred_sem_seg.data[0].cpu().numpy().astype(
                            np.uint8), palette))
            grid.append(row)
        fig = save_grid(
            grid,
            osp.join(self.work, 'figure.png'),
            col_titles=[
                'image', 'ground truth', 'CAM baseline', 'SEAM CAM',
                'pseudo label', 'stage 2'
            ][:len(grid[0])],
            row_titles=ids)
        log(f'results: {md}, {self.results_path}; figure: {fig}')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--preset', choices=sorted(PRESETS), default='synthetic')
    p.add_argument(
        '--work-dir',
        default=None,
        help='default: the preset\'s (work_dirs/demo for synthetic)')
    p.add_argument('--data-root', default=None)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='cpu')
    p.add_argument('--amp', action='store_true', help='bf16 CAM inference')
    p.add_argument(
        '--crf-alphas', type=float, nargs=2, default=(4.0, 24.0),
        metavar=('LA', 'HA'))
    p.add_argument('--skip-affinity', action='store_true')
    p.add_argument(
        '--stop-after',
        choices=LAST_STEPS,
        default=None,
        help='last step: crf or rw end with the pseudo labels and their '
        'scores (no stage 2); default: the preset\'s (stage2, crf for '
        'synthetic-small)')
    p.add_argument('--figure-rows', type=int, default=4)
    p.add_argument(
        '--train-options',
        nargs='+',
        metavar='KEY=VALUE',
        help='extra --cfg-options for every training run (e.g. '
        'train_cfg.max_epochs=1 param_scheduler.0.end=1 for a smoke test)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    Pipeline(args).run()


if __name__ == '__main__':
    main()
