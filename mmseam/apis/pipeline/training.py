# Copyright (c) mmseam contributors. All rights reserved.
"""The training steps: each stage trains in a ``tools/train.py``
subprocess (resumable), the pretraining stand-in is scored per class."""
import os.path as osp
import sys
import time

from .common import log, parse_opts, run_logged
from .presets import package_file
from .state import check_same_model

#: Below this image-label AP (on the label split) a class counts as not
#: learned by the pretraining stand-in (a learned class is ranked perfectly,
#: AP 1.00; an unlearned one stays near its frequency, ~0.3).
PRETRAIN_MIN_AP = 0.9


class TrainingSteps:
    """Mixin of :class:`Pipeline`: training and the pretraining check."""

    def train_options(self, opts=(), epochs=None) -> list:
        """The ``--cfg-options`` of one training: ``opts``, the epochs,
        no validation during training, then ``--train-options``."""
        opts = list(opts)
        if epochs:
            opts += [
                f'train_cfg.max_epochs={epochs}',
                f'param_scheduler.0.end={epochs}'
            ]
        # scored separately (multi-scale CAMs, pseudo labels, stage-2 test)
        opts += ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']
        return opts + list(getattr(self.args, 'train_options', None) or [])

    def train(self, name: str, cfg: str, opts=(), epochs=None) -> str:
        """Train ``cfg`` into ``<work>/<name>`` (resumable); return ckpt.

        ``epochs`` overrides the recipe's number of epochs for ``name``.
        """
        from mmengine.config import Config
        work_dir = osp.join(self.work, name)
        opts = self.train_options(opts, epochs or self.p['epochs'].get(name))
        cfg_path = self.config_path(cfg)
        c = Config.fromfile(cfg_path)
        c.merge_from_dict(parse_opts(opts))
        max_epochs = c.train_cfg.get('max_epochs')
        final = osp.join(work_dir, f'epoch_{max_epochs}.pth') \
            if max_epochs else osp.join(
                work_dir, f'iter_{c.train_cfg.max_iters}.pth')
        check_same_model(name, work_dir, c.model, cfg)
        if osp.isfile(final):
            log(f'{name}: done already ({final})')
            return final
        cmd = [
            sys.executable,
            package_file('tools/train.py'), cfg_path, '--work-dir', work_dir,
            '--resume', '--cfg-options', *opts
        ]
        log(f'{name}: training {cfg} -> {work_dir} (log: {name}.log)')
        t0 = time.time()
        run_logged(cmd, osp.join(self.work, f'{name}.log'), cwd=self.cwd)
        # summed: the pretraining may train on in steps (pretrain_extend)
        key = f'train_{name}'
        self.timings[key] = round(
            self.timings.get(key, 0) + time.time() - t0, 1)
        if not osp.isfile(final):
            raise RuntimeError(f'{name}: training ended without {final}; see '
                               f'{osp.join(self.work, name + ".log")}')
        self.save_results()
        return final

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
                f'numbers swing between seeds.')
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
        several points between seeds. The APs are saved under the
        checkpoint's name and modification time and reused for it.
        """
        saved = self.results.setdefault('pretrain_ap', {})
        key = osp.basename(ckpt)
        mtime = int(osp.getmtime(ckpt))  # a retrained checkpoint is rescored
        if saved.get(key, {}).get('mtime') == mtime:
            ap = saved[key]['per_class']
        else:
            ap = self.score_classifier(cfg, ckpt)
            saved[key] = dict(mtime=mtime, per_class=ap)
            self.save_results()
        title = self.split_title(self.p['label_split'])
        images = title if title == 'all images' else f'the {title} images'
        log(f'pretrain: image-label AP per class of {key} on {images}: ' +
            ', '.join(f'{n} {v:.2f}' for n, v in ap.items()))
        # (a class without a positive image has AP nan: nothing to learn)
        return [n for n, v in ap.items() if v < PRETRAIN_MIN_AP]

    def score_classifier(self, cfg: str, ckpt: str) -> dict:
        """``{class name: image-label AP}`` of a classifier checkpoint on
        the label split."""
        from mmengine.registry import init_default_scope
        from mmseg.apis import init_model

        from ..classifier_check import (class_average_precision,
                                        image_label_scores)
        init_default_scope('mmseg')
        dataset, c = self.label_dataset(cfg)
        model = init_model(c, ckpt, device=self.device)
        scores, labels = image_label_scores(model, dataset)
        names = self.metainfo()['classes'][1:]
        return {
            n: round(float(v), 4)
            for n, v in zip(names, class_average_precision(scores, labels))
        }
