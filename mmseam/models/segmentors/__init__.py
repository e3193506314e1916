# Copyright (c) mmseam contributors. All rights reserved.
from .affinitynet import AffinityNet
from .crf_tta import CRFSegTTAModel
from .seam import SEAM

__all__ = ['SEAM', 'AffinityNet', 'CRFSegTTAModel']
