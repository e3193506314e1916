# Copyright (c) mmseam contributors. All rights reserved.
"""Log the CAM of a training image every few iterations."""
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS
from torch import Tensor

from ...apis.visualize import cam_heatmap
from ...models.utils.cam_ops import max_norm

__all__ = ['CAMVisualizationHook']


@HOOKS.register_module()
class CAMVisualizationHook(Hook):
    """Show how the CAMs of a SEAM-style model evolve during training.

    Every ``interval`` training iterations the first image of the current
    batch is run through the model (``model._forward`` on the
    pre-processed image, no gradients) and a strip
    ``image | CAM | PCM`` (``H x (k W + (k - 1) gap) x 3`` uint8 RGB, the
    PCM panel only when the model returns ``cam_pcm``) is logged with
    ``runner.visualizer.add_image(name, strip, step=runner.iter + 1)``, so
    every visualisation backend of the runner receives it
    (``LocalVisBackend`` writes ``<vis_data>/vis_image/<name>_<step>.png``,
    ``TensorBoardVisBackend`` an image summary). ``step`` counts the
    finished iterations, like the logged scalars.

    Each map panel is a jet heat map over the de-normalised image of the
    per-pixel maximum, over the foreground classes present in the image
    (``img_labels``), of the per-class min-max normalised output
    (:func:`~mmseam.models.utils.cam_ops.max_norm`). No present class gives
    an all-zero heat map.

    The forward runs in eval mode (no dropout, BN running statistics) and
    the previous mode is restored afterwards, so the hook changes neither
    the weights, the BN statistics nor the random state: training is
    identical with and without it. It runs on the main process only.

    Args:
        interval (int): Log every ``interval`` iterations (0 disables).
            Defaults to 50.
        name (str): Image name for the visualiser. Defaults to
            ``'train_cam'``.
        alpha (float): Heat-map opacity. Defaults to 0.5.
        gap (int): White pixels between the panels. Defaults to 2.
        input_order (str): Colour order of the model input after the data
            pre-processor, ``'rgb'`` (``bgr_to_rgb=True``, the default) or
            ``'bgr'``.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 50,
                 name: str = 'train_cam',
                 alpha: float = 0.5,
                 gap: int = 2,
                 input_order: str = 'rgb'):
        if interval < 0:
            raise ValueError(f'CAMVisualizationHook: interval must be >= 0 '
                             f'(0 disables), got {interval}.')
        if input_order not in ('rgb', 'bgr'):
            raise ValueError(f'CAMVisualizationHook: input_order must be '
                             f'"rgb" or "bgr", got {input_order!r}.')
        self.interval = interval
        self.name = name
        self.alpha = alpha
        self.gap = gap
        self.input_order = input_order

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Log the CAM strip of ``data_batch``'s first image if due."""
        if self.interval == 0 or not data_batch:
            return
        if not self.every_n_train_iters(runner, self.interval):
            return
        if not is_main_process():
            return
        strip = self.render(runner.model, data_batch)
        runner.visualizer.add_image(self.name, strip, step=runner.iter + 1)

    # ------------------------------------------------------------------
    def _denormalize(self, model, x: Tensor) -> np.ndarray:
        """(3, H, W) model input -> uint8 (H, W, 3) RGB image."""
        dp = model.data_preprocessor
        if getattr(dp, '_enable_normalize', False):
            x = x * dp.std + dp.mean
        img = x.float().clamp(0, 255).round().byte().permute(1, 2, 0)
        img = img.cpu().numpy()
        if self.input_order == 'bgr':
            img = img[..., ::-1]
        return np.ascontiguousarray(img)

    def _heatmap(self, img: np.ndarray, cam: Tensor,
                 present: Tensor) -> np.ndarray:
        """Heat map of the present fg channels of ``cam`` (1 x C x H x W)."""
        fg = max_norm(cam.float())[0, 1:]
        return cam_heatmap(img, fg[present].cpu().numpy(), self.alpha)

    @torch.no_grad()
    def render(self, model, data_batch: dict) -> np.ndarray:
        """The ``image | CAM | PCM`` strip of the batch's first image.

        Args:
            model (nn.Module): The (possibly wrapped) SEAM-style model:
                ``_forward(inputs)`` must return a dict with ``cam``
                (N x C x H x W, channel 0 = background) and optionally
                ``cam_pcm``.
            data_batch (dict): The batch from the train dataloader:
                ``inputs`` (list of 3 x H x W uint8 tensors or a stacked
                tensor) and ``data_samples`` with ``img_labels`` ((C-1,)).

        Returns:
            np.ndarray: uint8 (H, k * W + (k - 1) * gap, 3) RGB strip.
        """
        if is_model_wrapper(model):
            model = model.module
        sample = data_batch['data_samples'][0]
        if 'img_labels' not in sample:
            raise KeyError(
                'CAMVisualizationHook: the training data samples have no '
                '`img_labels`; use PackSegClsInputs in the train pipeline.')
        one = dict(
            inputs=data_batch['inputs'][:1],
            data_samples=data_batch['data_samples'][:1])
        was_training = model.training
        model.eval()
        try:
            data = model.data_preprocessor(one, False)
            x = data['inputs']
            out = model._forward(x)
        finally:
            model.train(was_training)
        if not isinstance(out, dict) or 'cam' not in out:
            raise TypeError(
                'CAMVisualizationHook needs a model whose `_forward` returns '
                f'a dict with "cam" (e.g. SEAM), got {type(out).__name__}'
                + (f' with keys {sorted(out)}' if isinstance(out, dict) else
                   '') + '; remove the hook for this model.')
        img = self._denormalize(model, x[0])
        labels = sample.img_labels.flatten().to(x.device)
        present = torch.nonzero(labels > 0).flatten().cpu()
        panels = [img, self._heatmap(img, out['cam'], present)]
        if out.get('cam_pcm') is not None:
            panels.append(self._heatmap(img, out['cam_pcm'], present))
        return _hstack(panels, self.gap)


def _hstack(panels: Sequence[np.ndarray], gap: int) -> np.ndarray:
    """Concatenate (H, W_i, 3) uint8 panels with white gaps."""
    h = panels[0].shape[0]
    sep = np.full((h, gap, 3), 255, np.uint8)
    parts = []
    for i, p in enumerate(panels):
        if i and gap:
            parts.append(sep)
        parts.append(p)
    return np.concatenate(parts, axis=1)
