# Copyright (c) mmseam contributors. All rights reserved.
"""Write (and score) CAM pseudo labels from inside a training run."""
import os.path as osp
from typing import Optional, Sequence

import torch
from mmengine.dist import barrier, get_dist_info, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import DATASETS, HOOKS

from ...apis.cam_inference import infer_cams
from ...apis.crf import CRFConfig, crf_output_dirs

__all__ = ['PseudoLabelHook']


@HOOKS.register_module()
class PseudoLabelHook(Hook):
    """Run CAM inference on a split after training (optionally every N
    epochs), write CAMs and pseudo labels into the work dir, optionally refine
    them with dense CRF, and log their mIoU where ground truth exists.

    Outputs go to ``<work_dir>/<out_dir>/<tag>/`` with ``tag`` = ``final``
    after training or ``epoch_<n>`` for the periodic runs:
    ``cams/<id>.npz``, ``pseudo_labels/<id>.png`` and, with CRF,
    ``crf/crf_<alpha>/`` + ``crf/crf_<alpha>_png/``. Inference is resumable
    (finished images are skipped) and rank-aware (each rank its shard, a
    barrier at the end); CRF and scoring run on rank 0.

    Args:
        dataset (dict, optional): Dataset config of the split to label. Its
            pipeline must keep the original size and pack ``img_labels``
            (``PackSegClsInputs``); ``LoadAnnotations`` is not needed.
            Defaults to the runner config's ``test_dataloader.dataset``.
        split (str, optional): Replace the dataset's ``ann_file`` (a name
            such as ``'train'`` means ``ImageSets/Segmentation/train.txt``).
        out_dir (str): Folder under the work dir. Defaults to
            ``'pseudo_labels'``.
        interval (int): Also run every ``interval`` epochs (0: only after
            training). Defaults to 0.
        scales (Sequence[float]): Inference scales. Defaults to the official
            ``(0.5, 1.0, 1.5, 2.0)``.
        flip (bool): Flip passes. Defaults to True.
        bg_threshold (float, optional): Background score of the PNGs;
            defaults to the model's ``test_cfg.bg_threshold``.
        crf (dict, optional): Also run the dense CRF, e.g.
            ``dict(alphas=(4, 24), workers=2)`` (other keys: the
            :class:`~mmseam.apis.crf.CRFConfig` fields). Each rank refines
            its own images in ``workers`` CPU processes while its network
            computes the next ones (overlapped with the inference).
        evaluate (bool): Score CAMs (threshold sweep) and PNGs against the
            dataset's ``seg_map_path`` folder when it exists. Defaults to
            True.
        amp_dtype (str, optional): 'bf16' or 'fp16' autocast for inference.
        num_workers (int): Image-loading workers. Defaults to 0.
        batch_size (int): Same-size images run as one batch per scale.
            Defaults to 1.
    """

    priority = 'LOW'  # after the checkpoint hook has saved the final weights

    def __init__(self,
                 dataset: Optional[dict] = None,
                 split: Optional[str] = None,
                 out_dir: str = 'pseudo_labels',
                 interval: int = 0,
                 scales: Sequence[float] = (0.5, 1.0, 1.5, 2.0),
                 flip: bool = True,
                 bg_threshold: Optional[float] = None,
                 crf: Optional[dict] = None,
                 evaluate: bool = True,
                 amp_dtype: Optional[str] = None,
                 num_workers: int = 0,
                 batch_size: int = 1):
        if amp_dtype not in (None, 'bf16', 'fp16'):
            raise ValueError(
                f'PseudoLabelHook: amp_dtype must be None, "bf16" or '
                f'"fp16", got {amp_dtype!r}.')
        self.dataset_cfg = dataset
        self.split = split
        self.out_dir = out_dir
        self.interval = interval
        self.scales = tuple(scales)
        self.flip = flip
        self.bg_threshold = bg_threshold
        self.crf = dict(crf) if crf else None
        self.evaluate = evaluate
        self.amp_dtype = dict(
            bf16=torch.bfloat16, fp16=torch.float16).get(amp_dtype)
        self.num_workers = num_workers
        self.batch_size = batch_size
        self._dataset = None
        self.results = {}

    # ------------------------------------------------------------------
    def _build_dataset(self, runner):
        if self._dataset is not None:
            return self._dataset
        cfg = self.dataset_cfg
        if cfg is None:
            cfg = runner.cfg.get('test_dataloader', {}).get('dataset')
            if cfg is None:
                raise ValueError(
                    'PseudoLabelHook needs a dataset: pass `dataset=` or '
                    'define test_dataloader.dataset in the config.')
        cfg = cfg.copy()
        if self.split:
            cfg['ann_file'] = self.split if self.split.endswith(
                '.txt') else osp.join('ImageSets', 'Segmentation',
                                      f'{self.split}.txt')
        self._dataset = DATASETS.build(cfg)
        return self._dataset

    def after_train_epoch(self, runner) -> None:
        if self.interval > 0 and self.every_n_epochs(
                runner, self.interval) and not self.is_last_train_epoch(
                    runner):
            self._run(runner, f'epoch_{runner.epoch + 1}')

    def after_train(self, runner) -> None:
        self._run(runner, 'final')

    # ------------------------------------------------------------------
    def _run(self, runner, tag: str) -> dict:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        dataset = self._build_dataset(runner)
        out = osp.join(runner.work_dir, self.out_dir, tag)
        runner.logger.info(
            f'PseudoLabelHook: CAM inference on {len(dataset)} images '
            f'(scales {self.scales}, flip {self.flip}) -> {out}')
        crf_cfg, crf_workers = None, 0
        if self.crf:
            crf_kw = dict(self.crf)
            crf_kw['alphas'] = tuple(crf_kw.get('alphas', (4, 24)))
            crf_workers = crf_kw.pop('workers', 1)
            crf_cfg = CRFConfig(**crf_kw)
        res = infer_cams(
            model,
            dataset,
            out,
            scales=self.scales,
            flip=self.flip,
            bg_threshold=self.bg_threshold,
            amp_dtype=self.amp_dtype,
            num_workers=self.num_workers,
            batch_size=self.batch_size,
            crf=crf_cfg,
            crf_out_dir=osp.join(out, 'crf'),
            crf_workers=crf_workers)
        metrics = {}
        if is_main_process():
            metrics = self._post_process(runner, dataset, out)
        rank, world = get_dist_info()
        if world > 1:
            barrier()
        runner.logger.info(
            f'PseudoLabelHook [{tag}]: {res["written"]} images written, '
            f'{res["skipped"]} already done')
        self.results[tag] = metrics
        return metrics

    def _post_process(self, runner, dataset, out: str) -> dict:
        from ...evaluation.pseudo_label_eval import evaluate_pseudo_labels
        ids = [
            str(
                dataset.get_data_info(i).get('img_id') or osp.splitext(
                    osp.basename(dataset.get_data_info(i)['img_path']))[0])
            for i in range(len(dataset))
        ]
        classes = dataset.metainfo.get('classes')
        num_classes = len(classes)
        seg_dir = dataset.data_prefix.get('seg_map_path')
        metrics = {}
        if not (self.evaluate and seg_dir and osp.isdir(seg_dir)):
            return metrics
        common = dict(
            gt_dir=seg_dir,
            ids=ids,
            num_classes=num_classes,
            class_names=classes,
            logger=runner.logger,
            log_curve=False)
        cam = evaluate_pseudo_labels(
            osp.join(out, 'cams'), type='cam', **common)
        png = evaluate_pseudo_labels(
            osp.join(out, 'pseudo_labels'), type='png', **common)
        metrics = {
            'pseudo/cam_mIoU': cam['mIoU'],
            'pseudo/cam_best_bg_threshold': cam['best_bg_threshold'],
            'pseudo/png_mIoU': png['mIoU'],
        }
        if self.crf:
            for alpha in self.crf.get('alphas', (4, 24)):
                crf_png = crf_output_dirs(osp.join(out, 'crf'), alpha)[1]
                metrics[f'pseudo/{osp.basename(crf_png)[:-4]}_mIoU'] = \
                    evaluate_pseudo_labels(
                        crf_png, type='png', **common)['mIoU']
        runner.logger.info('PseudoLabelHook metrics: ' + ', '.join(
            f'{k}={v:.4f}' if isinstance(v, float) else f'{k}={v}'
            for k, v in metrics.items()))
        runner.visualizer.add_scalars(
            {k: float(v)
             for k, v in metrics.items()}, step=runner.iter)
        return metrics
