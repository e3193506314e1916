# Copyright (c) mmseam contributors. All rights reserved.
"""SEAM: Self-supervised Equivariant Attention Mechanism (CVPR 2020).

Paper: https://arxiv.org/abs/2004.04581
"""
import contextlib
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from mmengine.structures import PixelData
from torch import Tensor

from ..utils.cam_ops import max_norm, max_onehot
from ..utils.resize import (autocast_off, bilinear_resize,
                            resize_chain_matrix)

# torch.compile'd functions, one per (function, compile_cfg). They take the
# module as an argument and are kept here rather than on the module, so a
# deep-copied or pickled model carries no compiled state bound to another
# instance.
_COMPILED: Dict[tuple, Callable] = {}


def _compiled(fn: Callable, compile_cfg: dict) -> Callable:
    """``torch.compile(fn, **compile_cfg)``, built once per arguments."""
    key = (fn, repr(sorted(compile_cfg.items())))
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(fn, **compile_cfg)
    return _COMPILED[key]


def _check_compile_cfg(cfg, where: str) -> Optional[dict]:
    """``compile_cfg`` as a dict of torch.compile arguments, or None."""
    if cfg is True:
        return dict()
    if cfg is None or cfg is False:
        return None
    if not isinstance(cfg, dict):
        raise TypeError(
            f'{where}.compile_cfg must be a dict of torch.compile keyword '
            f'arguments (e.g. dict(dynamic=False)), True or None, got '
            f'{cfg!r}.')
    return dict(cfg)


_AMP_DTYPES = {
    None: None,
    'bfloat16': torch.bfloat16,
    'float16': torch.float16,
}


@MODELS.register_module()
class SEAM(BaseSegmentor):
    """SEAM classifier: a Siamese CAM network with a Pixel Correlation Module.

    Stage 1 of weakly supervised semantic segmentation. It learns class
    activation maps (CAMs) from image-level labels and is written as an
    MMSegmentation segmentor, so that ``tools/test.py`` and ``IoUMetric``
    score its CAM pseudo labels directly.

    Network (the official ``resnet38_SEAM``): ``backbone`` gives a tuple of
    feature maps; the CAM head is ``Dropout2d`` + a bias-free 1x1 conv
    (``classifier``) on ``feats[in_index]`` giving ``C = num_classes``
    channels (channel 0 is the background slot); the optional ``neck``
    (:class:`PixelCorrelationModule`) refines the CAM with feature affinity.

    Training (``loss``): view 1 is the input batch ``I1`` (N x 3 x H x W),
    view 2 is ``A(I1)`` with the configurable equivariant transform ``A``
    (default: bilinear rescale by 0.3, as the official code). Both views go
    through the same weights. With ``y`` the N x C x 1 x 1 label (background
    slot 1), ``cam_k, pcm_k`` the two outputs of view k at its input size:

    - ``loss_cls``: multilabel soft margin on GAP(cam_k)[fg] (``cls_pool``),
      mean of views;
    - ``loss_minpool``: min-pool loss on (pcm_k * y)[fg], mean of views;
    - ``loss_er``: mean |A(maxnorm(cam_1)) y - maxnorm(cam_2) y| over fg;
    - ``loss_ecr``: top-k mean of |maxonly(cam_2') - A(maxnorm(pcm_1)) y|
      plus top-k mean of |maxonly(A(maxnorm(cam_1)) y) - maxnorm(pcm_2) y|,
      targets detached, background channels set to ``1 - max fg``.

    The PCM's inputs are detached (see the neck), so ``loss_minpool`` and
    ``loss_ecr`` only train the neck, as in the official code. Any loss set to
    ``None`` is off; with ``neck=None``, ``loss_er=None``,
    ``loss_ecr=None``, ``loss_minpool=None`` and
    ``equivariant_transform=None`` the model is the plain CAM baseline.

    Args:
        backbone (dict): Backbone config; must return a tuple of features.
        num_classes (int): Classes including background (dataset metainfo).
        in_channels (int): Channels of ``feats[in_index]``.
        in_index (int): Which backbone output feeds the classifier.
            Defaults to -1.
        dropout_ratio (float): ``Dropout2d`` before the classifier.
            Defaults to 0.5.
        cls_pool (str): How ``loss_cls`` pools a CAM into class scores:
            'avg' (GAP, the official SEAM) or 'max' (global max pooling;
            used to pretrain the synthetic stand-in backbone, whose class
            marks cover ~1 % of an image). Defaults to 'avg'.
        neck (dict, optional): PCM config. ``None`` disables the PCM.
        equivariant_transform (dict, optional): Transform making view 2.
            ``None`` trains a single view.
        loss_cls, loss_minpool, loss_er, loss_ecr (dict, optional): Loss
            configs; ``None`` switches a term off.
        train_cfg (dict, optional): Unused; kept for the mmseg interface.
        test_cfg (dict, optional): Inference options:
            ``cam_source`` ('pcm' or 'cam', default 'pcm' when there is a
            neck), ``scales`` (default ``(1.0,)``), ``flip`` (default False),
            ``bg_threshold`` (background score for ``pred_sem_seg``,
            default 0.26 as the official ``--out_cam_pred_alpha``),
            ``mask_absent`` (zero the classes absent from the image: from
            the image-level labels when the data sample has them, otherwise
            from the predicted image-level classes, see
            :meth:`predicted_labels`; default True), ``cls_threshold``
            (probability above which a class counts as predicted present,
            default 0.5), ``resize_mode`` (how scaled
            inputs are made, default 'bilinear'), ``amp_dtype`` (None,
            'bfloat16' or 'float16': run the network passes of
            :meth:`multiscale_cam` under autocast, CAMs summed in fp32;
            default None = fp32), ``compile_cfg`` (``torch.compile``
            arguments for the network in inference, see ``compile_cfg``
            below; default None = eager).
        channels_last (bool): Keep the 4D weights and the network input in
            ``torch.channels_last`` memory format (faster convolutions on
            tensor-core GPUs and oneDNN CPUs; same maths). Defaults to False.
        compile_cfg (dict | bool, optional): In training, run the network
            (backbone, CAM head and PCM: :meth:`forward_cam`) through
            ``torch.compile`` with these keyword arguments (``True`` =
            ``dict()``, torch's defaults); ``None``/``False`` (default) runs
            it eagerly. Inference has its own ``test_cfg.compile_cfg`` (same
            values, default None), because training sees two fixed sizes
            (``dynamic=False`` compiles one static graph each) while
            inference sees every image size (torch's default
            ``dynamic=None`` switches to one dynamic-shape graph after the
            second size). Only the forward function is compiled: parameter
            names, checkpoints and model wrappers are unchanged, and the
            losses, resizing and inference loops around it stay eager. The
            first step at a new size (or mode) compiles; the maths equal the
            eager network up to floating-point reordering.
        compile_scope (str): What ``compile_cfg`` compiles in training:
            'network' (default, :meth:`forward_cam`, measured in
            docs/benchmarks.md) or 'loss' (both Siamese passes and every
            loss after the label stacking as one graph, fusing the
            full-resolution fp32 loss arithmetic too; not yet measured on a
            GPU).
        data_preprocessor (dict, optional): ``SegDataPreProcessor`` config.
        pretrained (str, optional): Backbone checkpoint (mmseg's legacy
            shortcut for ``backbone.init_cfg``).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 num_classes: int,
                 in_channels: int,
                 in_index: int = -1,
                 dropout_ratio: float = 0.5,
                 cls_pool: str = 'avg',
                 neck: OptConfigType = None,
                 equivariant_transform: OptConfigType = dict(
                     type='RescaleTransform', scale_factor=0.3),
                 loss_cls: OptConfigType = dict(
                     type='MultiLabelSoftMarginLoss'),
                 loss_minpool: OptConfigType = dict(type='MinPoolLoss'),
                 loss_er: OptConfigType = dict(type='EquivariantRegLoss'),
                 loss_ecr: OptConfigType = dict(
                     type='EquivariantCrossRegLoss'),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 channels_last: bool = False,
                 compile_cfg: Union[dict, bool, None] = None,
                 compile_scope: str = 'network',
                 data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None):
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if pretrained is not None:  # mmseg's legacy shortcut
            backbone = dict(backbone)
            backbone['init_cfg'] = dict(
                type='Pretrained', checkpoint=pretrained)
        if num_classes < 2:
            raise ValueError(
                f'SEAM needs num_classes >= 2 (background + at least one '
                f'class), got {num_classes}. Set model.num_classes to '
                f'len(dataset.metainfo["classes"]).')
        if cls_pool not in ('avg', 'max'):
            raise ValueError(f"cls_pool={cls_pool!r}; use 'avg' (GAP, the "
                             "official SEAM) or 'max'.")
        self.cls_pool = cls_pool
        self.num_classes = num_classes
        self.backbone = MODELS.build(backbone)
        self.in_index = in_index
        self.cls_dropout = nn.Dropout2d(dropout_ratio)
        self.classifier = nn.Conv2d(
            in_channels, num_classes, kernel_size=1, bias=False)
        nn.init.xavier_uniform_(self.classifier.weight)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.transform = (
            MODELS.build(equivariant_transform)
            if equivariant_transform is not None else None)
        self.loss_cls = MODELS.build(loss_cls) if loss_cls else None
        self.loss_minpool = MODELS.build(loss_minpool) if (
            loss_minpool and self.neck is not None) else None
        self.loss_er = MODELS.build(loss_er) if (
            loss_er and self.transform is not None) else None
        self.loss_ecr = MODELS.build(loss_ecr) if (
            loss_ecr and self.neck is not None
            and self.transform is not None) else None
        self.train_cfg = train_cfg
        test_cfg = dict(test_cfg or {})
        test_cfg.setdefault('cam_source',
                            'pcm' if self.neck is not None else 'cam')
        if test_cfg['cam_source'] == 'pcm' and self.neck is None:
            raise ValueError('test_cfg.cam_source="pcm" needs a PCM neck; '
                             'use cam_source="cam" or configure a neck.')
        test_cfg.setdefault('scales', (1.0, ))
        test_cfg.setdefault('flip', False)
        test_cfg.setdefault('bg_threshold', 0.26)
        test_cfg.setdefault('mask_absent', True)
        test_cfg.setdefault('cls_threshold', 0.5)
        test_cfg.setdefault('resize_mode', 'bilinear')
        test_cfg.setdefault('amp_dtype', None)
        if test_cfg['amp_dtype'] not in _AMP_DTYPES:
            raise ValueError(
                f'model.test_cfg.amp_dtype must be one of '
                f'{sorted(k for k in _AMP_DTYPES if k)} or None, got '
                f'{test_cfg["amp_dtype"]!r}.')
        self.test_cfg = test_cfg
        # Used by BaseSegmentor helpers; CAMs are resized like the official
        # inference (align_corners=False).
        self.align_corners = False
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)
        self.compile_cfg = _check_compile_cfg(compile_cfg, 'model')
        if compile_scope not in ('network', 'loss'):
            raise ValueError(f"model.compile_scope={compile_scope!r}; use "
                             "'network' or 'loss'.")
        self.compile_scope = compile_scope
        self.test_cfg['compile_cfg'] = _check_compile_cfg(
            self.test_cfg.get('compile_cfg'), 'model.test_cfg')

    # ------------------------------------------------------------------
    # network
    # ------------------------------------------------------------------
    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Backbone features: a tuple of N x C_i x h_i x w_i tensors."""
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        feats = self.backbone(inputs)
        if isinstance(feats, Tensor):
            feats = (feats, )
        return tuple(feats)

    def forward_cam(self, inputs: Tensor) -> Dict[str, Tensor]:
        """Raw CAM logits and PCM output at the feature size.

        Compiled with ``torch.compile(**compile_cfg)`` in training and
        ``torch.compile(**test_cfg.compile_cfg)`` in eval mode when those
        are set (see the class docstring), eager otherwise.

        Args:
            inputs (Tensor): Normalised images, N x 3 x H x W.

        Returns:
            dict: ``cam`` (N x C x h x w raw logits) and, with a neck,
            ``cam_pcm`` (N x C x h x w, >= 0).
        """
        cfg = self.compile_cfg if self.training else \
            self.test_cfg.get('compile_cfg')
        if cfg is None or (self.training and self.compile_scope == 'loss'):
            # eager, or traced as part of the compiled _losses
            return self._forward_cam(inputs)
        return _compiled(SEAM._forward_cam, cfg)(self, inputs)

    def _forward_cam(self, inputs: Tensor) -> Dict[str, Tensor]:
        """The eager body of :meth:`forward_cam`."""
        feats = self.extract_feat(inputs)
        cam = self.classifier(self.cls_dropout(feats[self.in_index]))
        out = dict(cam=cam)
        if self.neck is not None:
            out['cam_pcm'] = self.neck(cam, feats, inputs)
        return out

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Dict[str, Tensor]:
        """The official network's two outputs at the input size.

        Args:
            inputs (Tensor): Normalised images, N x 3 x H x W.
            data_samples: Unused.

        Returns:
            dict: ``cam`` (N x C x H x W raw logits, all channels) and, with
            a neck, ``cam_pcm`` (N x C x H x W), both upsampled bilinearly
            with ``align_corners=True`` as the official ``resnet38_SEAM``.
            Always float32 (under autocast the network runs in low precision
            but the maps, and every loss and CAM sum made from them, are
            fp32).
        """
        out = self.forward_cam(inputs)
        size = inputs.shape[-2:]
        # bilinear_resize = F.interpolate(..., align_corners=True) as two
        # matrix products (up to fp32 rounding): its backward has no
        # atomic scatter (mmseam/models/utils/resize.py).
        return {
            k: bilinear_resize(v.float(), size, align_corners=True)
            for k, v in out.items()
        }

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def _image_labels(self, data_samples: SampleList,
                      device: torch.device) -> Tensor:
        """N x C x 1 x 1 labels: 1 for background and present classes.

        The per-sample rows are stacked where they live and moved with one
        non-blocking copy (no per-sample host-device round trip).
        """
        rows = []
        for i, sample in enumerate(data_samples):
            if 'img_labels' not in sample:
                raise KeyError(
                    f'Data sample {i} ({sample.metainfo.get("img_path")}) '
                    f'has no `img_labels`: use the PackSegClsInputs '
                    f'transform in the training pipeline.')
            rows.append(sample.img_labels.flatten())
        if len({r.device for r in rows}) > 1:
            rows = [r.to(device) for r in rows]
        labels = torch.stack(rows).to(
            device=device, dtype=torch.float32, non_blocking=True)
        if labels.shape[1] != self.num_classes - 1:
            raise ValueError(
                f'Image labels have {labels.shape[1]} foreground classes but '
                f'the model has num_classes={self.num_classes} (background '
                f'+ {self.num_classes - 1}). Set model.num_classes to the '
                f'number of classes in the dataset metainfo '
                f'({labels.shape[1] + 1}).')
        bg = labels.new_ones(labels.shape[0], 1)
        return torch.cat([bg, labels], dim=1)[:, :, None, None]

    @staticmethod
    def _set_bg_from_fg(cam: Tensor) -> Tensor:
        """Replace channel 0 with ``1 - max_{c>=1} cam_c`` (out of place)."""
        bg = 1 - cam[:, 1:].max(dim=1, keepdim=True)[0]
        return torch.cat([bg, cam[:, 1:]], dim=1)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Siamese SEAM losses for a batch.

        Args:
            inputs (Tensor): Normalised crops, N x 3 x H x W.
            data_samples (list[SegDataSample]): Each with ``img_labels``
                ((C-1,) multi-hot over foreground classes).

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_minpool``, ``loss_er``,
            ``loss_ecr`` (those switched on).
        """
        y = self._image_labels(data_samples, inputs.device)
        if self.compile_cfg is not None and self.compile_scope == 'loss':
            return _compiled(SEAM._losses, self.compile_cfg)(self, inputs, y)
        return self._losses(inputs, y)

    def _losses(self, inputs: Tensor, y: Tensor) -> dict:
        """The losses of :meth:`loss` from the N x C x 1 x 1 labels ``y``
        (background slot 1); compiled as a whole with
        ``compile_scope='loss'``."""
        views = [inputs]
        if self.transform is not None:
            views.append(self.transform(inputs))
        # The views differ in size (448 vs 134 for the official rescale), so
        # each needs its own network pass; everything after it that has the
        # same shape for both views (or for the CAM and the PCM output of a
        # view) runs as one batch below. No step here reads a tensor value
        # on the host.
        outs = [self._forward(v) for v in views]
        losses = dict()
        nv = len(outs)
        n, c = y.shape[:2]

        if self.loss_cls is not None:
            # GAP scores of all views as one (nv * N) x (C - 1) batch: the
            # batch mean equals the mean over views of the per-view losses.
            pool = F.adaptive_avg_pool2d if self.cls_pool == 'avg' else \
                F.adaptive_max_pool2d
            scores = torch.cat([pool(o['cam'], 1)[:, 1:, 0, 0] for o in outs])
            losses[self.loss_cls.loss_name] = self.loss_cls(
                scores, y[:, 1:, 0, 0].repeat(nv, 1))
        if self.loss_minpool is not None:
            losses[self.loss_minpool.loss_name] = sum(
                self.loss_minpool((o['cam_pcm'] * y)[:, 1:])
                for o in outs) / nv
        if self.transform is None:
            return losses

        # max_norm is per (sample, channel) and the transform per channel,
        # so the CAM and PCM maps of a view are normalised (and view 1's
        # brought to view 2's frame) as one 2C-channel tensor.
        keys = ['cam'] + (['cam_pcm'] if self.loss_ecr is not None else [])
        view1 = self.transform(
            max_norm(torch.cat([outs[0][k] for k in keys], dim=1)))
        view2 = max_norm(torch.cat([outs[1][k] for k in keys], dim=1))
        ys = y.repeat(1, len(keys), 1, 1)
        view1 = (view1 * ys).split(c, dim=1)
        view2 = (view2 * ys).split(c, dim=1)
        cam1, cam2 = view1[0], view2[0]
        if self.loss_er is not None:
            losses[self.loss_er.loss_name] = self.loss_er(
                cam1[:, 1:], cam2[:, 1:])
        if self.loss_ecr is not None:
            pcm1, pcm2 = view1[1], view2[1]
            target1 = max_onehot(self._set_bg_from_fg(cam2.detach()))
            target2 = max_onehot(self._set_bg_from_fg(cam1.detach()))
            losses[self.loss_ecr.loss_name] = (
                self.loss_ecr(pcm1, target1) + self.loss_ecr(pcm2, target2))
        return losses

    # ------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------
    def multiscale_cam(self,
                       inputs: Tensor,
                       scales: Sequence[float] = (1.0, ),
                       flip: bool = False,
                       out_size: Optional[Tuple[int, int]] = None,
                       source: str = 'pcm',
                       resize_mode: str = 'bilinear') -> Tensor:
        """Sum of foreground CAMs over scales (and flips), before norm.

        The official inference (docs/method.md, "CAM inference"): each
        pass's foreground channels are resized to ``out_size`` (bilinear,
        ``align_corners=False``) and flipped back, then summed. The original
        and flipped copies of a scale run as one batch. With
        ``test_cfg.amp_dtype`` set (and no autocast already active) the
        network passes run under autocast in that dtype; the resizing and
        the sum are always fp32.

        Args:
            inputs (Tensor): Normalised images, N x 3 x H x W.
            scales (Sequence[float]): Input scale factors.
            flip (bool): Also run horizontally flipped copies.
            out_size (tuple, optional): Output size; defaults to (H, W).
            source (str): 'pcm' (PCM output) or 'cam' (CAM branch).
            resize_mode (str): Interpolation for the scaled inputs.

        Returns:
            Tensor: N x (C-1) x H_out x W_out summed raw scores.
        """
        n, _, h, w = inputs.shape
        out_size = tuple(out_size or (h, w))
        key = 'cam_pcm' if source == 'pcm' else 'cam'
        autocast = self._test_autocast(inputs.device)
        total = None
        for s in scales:
            size = (max(int(round(h * s)), 1), max(int(round(w * s)), 1))
            x = inputs if size == (h, w) else F.interpolate(
                inputs,
                size,
                mode=resize_mode,
                align_corners=False if resize_mode != 'nearest' else None)
            if flip:
                x = torch.cat([x, x.flip(-1)], dim=0)
            with autocast:
                out = self.forward_cam(x)[key][:, 1:]
            total = self._to_image(out.float(), size, out_size, n, flip,
                                   total)
        return total

    @staticmethod
    def _to_image(out: Tensor, size: Tuple[int, int],
                  out_size: Tuple[int, int], n: int, flip: bool,
                  total: Optional[Tensor]) -> Tensor:
        """Bring one scale's maps to the image and add them to ``total``.

        The official inference resizes the network output to its input
        size (bilinear, ``align_corners=True``, inside the network), then to
        the image size (``align_corners=False``), flips the flipped copies
        back and sums. All of it is linear, so it runs as two matrix
        products with the chained resize matrices
        (:func:`~mmseam.models.utils.resize.resize_chain_matrix`); the
        flipped copies are placed next to the originals along the width and
        multiplied with the mirrored width matrix, which sums the pair.

        Args:
            out (Tensor): (N or 2N) x C x h x w fp32 maps, flipped copies
                after the originals when ``flip``.
            size (tuple): The network's input size at this scale.
            out_size (tuple): The image size (H, W).
            n (int): Number of images.
            flip (bool): Whether ``out`` holds flipped copies.
            total (Tensor, optional): N x C x H x W running sum.

        Returns:
            Tensor: N x C x H x W, ``total`` plus this scale's maps.
        """
        hf, wf = out.shape[-2:]
        m_h = resize_chain_matrix(hf, size[0], out_size[0], out.device)
        m_w = resize_chain_matrix(wf, size[1], out_size[1], out.device)
        if flip:
            out = torch.cat([out[:n], out[n:]], dim=-1)
            m_w = torch.cat([m_w, m_w.flip(0)], dim=1)
        with autocast_off(out):
            out = torch.matmul(m_h, torch.matmul(out, m_w.t()))
        return out if total is None else total + out

    def _test_autocast(self, device: torch.device):
        """Autocast context of ``test_cfg.amp_dtype`` on ``device``.

        A null context when ``amp_dtype`` is None or an autocast is already
        active on that device type (the caller's choice wins).
        """
        dtype = _AMP_DTYPES[self.test_cfg.get('amp_dtype')]
        if dtype is None or torch.is_autocast_enabled(device.type):
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=dtype)

    def image_scores(self, inputs: Tensor) -> Tensor:
        """Image-level class probabilities, pooled as in training.

        The CAM branch (no PCM) at the input size, as :meth:`_forward`
        gives it to ``loss_cls``, pooled with ``cls_pool`` (GAP or global
        max) over the foreground channels, through a sigmoid (the
        probability the multi-label soft-margin loss trains).

        Args:
            inputs (Tensor): Normalised images, N x 3 x H x W.

        Returns:
            Tensor: N x (C-1) probabilities in [0, 1], fp32.
        """
        feats = self.extract_feat(inputs)
        cam = self.classifier(self.cls_dropout(feats[self.in_index]))
        cam = bilinear_resize(
            cam.float(), inputs.shape[-2:], align_corners=True)
        pool = F.adaptive_avg_pool2d if self.cls_pool == 'avg' else \
            F.adaptive_max_pool2d
        return torch.sigmoid(pool(cam[:, 1:], 1)[:, :, 0, 0])

    @staticmethod
    def predicted_labels(scores: Tensor, threshold: float = 0.5) -> Tensor:
        """Multi-hot predicted classes: score > ``threshold``, else the top.

        Args:
            scores (Tensor): N x (C-1) image-level probabilities.
            threshold (float): Probability above which a class is present.

        Returns:
            Tensor: N x (C-1) float multi-hot; an image without any score
            above ``threshold`` keeps its highest-scoring class.
        """
        above = scores > threshold
        top = F.one_hot(scores.argmax(dim=1), scores.shape[1]).bool()
        none = ~above.any(dim=1, keepdim=True)
        return (above | (top & none)).float()

    @staticmethod
    def normalize_cam(cam: Tensor, eps: float = 1e-5) -> Tensor:
        """Official per-class min-max after ReLU (docs/method.md).

        Args:
            cam (Tensor): ... x H x W summed scores.

        Returns:
            Tensor: Same shape, in [0, 1]; values below ``min + eps`` are 0.
        """
        cam = F.relu(cam)
        flat = cam.flatten(-2)
        cmin = flat.min(-1, keepdim=True)[0].unsqueeze(-1)
        cmax = flat.max(-1, keepdim=True)[0].unsqueeze(-1)
        return F.relu(cam - cmin - eps) / (cmax - cmin + eps)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Normalised foreground CAMs at the input size.

        Returns:
            Tensor: N x (C-1) x H x W in [0, 1] (no label masking).
        """
        cfg = self.test_cfg
        cam = self.multiscale_cam(
            inputs,
            scales=cfg['scales'],
            flip=cfg['flip'],
            source=cfg['cam_source'],
            resize_mode=cfg['resize_mode'])
        return self.normalize_cam(cam)

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """CAM pseudo labels in MMSegmentation's prediction format.

        Each returned sample holds ``seg_logits`` (C x H0 x W0 at the
        original size: channel 0 = ``bg_threshold``, channels 1.. = the
        normalised CAM, classes absent from the image zeroed when
        ``test_cfg.mask_absent``) and ``pred_sem_seg`` (1 x H0 x W0
        argmax), so ``IoUMetric`` scores the CAM directly.

        The classes kept are the image-level labels (``img_labels``) when
        the sample has them; a sample without them (a new photo) keeps the
        predicted classes (:meth:`image_scores` above
        ``test_cfg.cls_threshold``, else the top class) and gets the data
        fields ``img_scores`` ((C-1,) probabilities) and
        ``pred_img_labels`` ((C-1,) multi-hot of the classes kept).

        Args:
            inputs (Tensor): Normalised images, N x 3 x H x W.
            data_samples (list[SegDataSample], optional): With metainfo
                (``ori_shape``, padding) and optionally ``img_labels``.

        Returns:
            list[SegDataSample]: The samples with predictions set.
        """
        from mmseg.structures import SegDataSample
        cfg = self.test_cfg
        n, _, h, w = inputs.shape
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(n)]
        pred_labels = None
        if cfg['mask_absent'] and any('img_labels' not in s
                                      for s in data_samples):
            scores = self.image_scores(inputs)
            pred_labels = self.predicted_labels(scores, cfg['cls_threshold'])
        raw = self.multiscale_cam(
            inputs,
            scales=cfg['scales'],
            flip=cfg['flip'],
            source=cfg['cam_source'],
            resize_mode=cfg['resize_mode'])
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            pad = meta.get('img_padding_size', meta.get('padding_size'))
            cam_i = raw[i:i + 1]
            if pad is not None:
                left, right, top, bottom = pad
                cam_i = cam_i[..., top:h - bottom, left:w - right]
            if 'ori_shape' in meta and tuple(
                    meta['ori_shape'][:2]) != tuple(cam_i.shape[-2:]):
                cam_i = F.interpolate(
                    cam_i,
                    tuple(meta['ori_shape'][:2]),
                    mode='bilinear',
                    align_corners=False)
            cam_i = self.normalize_cam(cam_i)[0]
            if cfg['mask_absent'] and 'img_labels' in sample:
                labels = sample.img_labels.to(cam_i).flatten()
                cam_i = cam_i * labels[:, None, None]
            elif cfg['mask_absent']:
                sample.set_data(
                    dict(img_scores=scores[i], pred_img_labels=pred_labels[i]))
                cam_i = cam_i * pred_labels[i].to(cam_i)[:, None, None]
            bg = cam_i.new_full((1, ) + cam_i.shape[1:], cfg['bg_threshold'])
            logits = torch.cat([bg, cam_i], dim=0)
            sample.set_data(
                dict(
                    seg_logits=PixelData(data=logits),
                    pred_sem_seg=PixelData(
                        data=logits.argmax(dim=0, keepdim=True))))
        return data_samples
