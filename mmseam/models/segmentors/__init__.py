# Copyright (c) mmseam contributors. All rights reserved.
from .seam import SEAM

__all__ = ['SEAM']
from .affinitynet import AffinityNet  # noqa: E402

__all__ += ['AffinityNet']
