# Copyright (c) mmseam contributors. All rights reserved.
"""Multi-scale + flip test with logit averaging and optional dense CRF."""
from typing import List, Optional, Union

import mmcv
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors import SegTTAModel
from mmseg.registry import MODELS
from mmseg.utils import SampleList

__all__ = ['CRFSegTTAModel']


@MODELS.register_module()
class CRFSegTTAModel(SegTTAModel):
    """The official stage-2 test of SEAM as an mmseg TTA model.

    See docs/method.md, "Stage 2".

    Unlike mmseg's ``SegTTAModel`` (which averages softmax probabilities),
    the logits of all augmented views are averaged and then soft-maxed, as in
    the official ``test.py``; optionally a dense CRF (default: the official
    1-iteration preset, bilateral ``sxy`` 32) refines the probabilities with
    the original RGB image before the argmax.

    Use with ``tools/test.py CONFIG CKPT --tta`` style configs: set
    ``tta_model = dict(type='CRFSegTTAModel', crf=dict(...))`` and a
    ``tta_pipeline`` with ``TestTimeAug`` (scales x flip).

    Args:
        module (dict): The wrapped segmentor (set by the runner).
        merge (str): ``'logits'`` (official) or ``'probs'`` (mmseg).
        crf (dict | str, optional): CRF keyword arguments for
            :func:`mmseam.apis.crf.crf_inference` (``t``, ``gauss_sxy``,
            ``gauss_compat``, ``bi_sxy``, ``bi_srgb``, ``bi_compat``), or
            the name of a :data:`mmseam.apis.crf.CRF_PRESETS` entry (e.g.
            ``'stage2_test'``, the official one); ``None`` disables the
            CRF.
    """

    def __init__(self,
                 merge: str = 'logits',
                 crf: Optional[Union[dict, str]] = None,
                 **kwargs):
        super().__init__(**kwargs)
        if merge not in ('logits', 'probs'):
            raise ValueError(f'merge must be "logits" or "probs", got '
                             f'{merge!r}')
        self.merge = merge
        if isinstance(crf, str):
            from ...apis.crf import CRFConfig
            crf = CRFConfig.preset(crf).crf_kwargs()
        self.crf = dict(crf) if crf is not None else None

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        """Merge the views of each image into one prediction.

        Args:
            data_samples_list (list[list[SegDataSample]]): Per image, the
                predictions of its augmented views, each with ``seg_logits``
                (C x H x W at the original size).

        Returns:
            list[SegDataSample]: One sample per image with ``seg_logits``
            (C x H x W probabilities) and ``pred_sem_seg`` (1 x H x W).
        """
        from ...apis.crf import crf_inference
        predictions = []
        for views in data_samples_list:
            stack = torch.stack([v.seg_logits.data for v in views])
            if self.merge == 'logits':
                probs = stack.mean(0).softmax(0)
            else:
                probs = stack.softmax(1).mean(0)
            if self.crf is not None:
                img = mmcv.imread(views[0].img_path, channel_order='rgb')
                refined = crf_inference(
                    np.ascontiguousarray(img),
                    probs.float().cpu().numpy(), **self.crf)
                probs = torch.from_numpy(refined).to(probs)
            out = views[0]
            out.set_data(
                dict(
                    seg_logits=PixelData(data=probs),
                    pred_sem_seg=PixelData(
                        data=probs.argmax(0, keepdim=True))))
            predictions.append(out)
        return predictions
