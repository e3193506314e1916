# Copyright (c) mmseam contributors. All rights reserved.
from .seam import SEAM

__all__ = ['SEAM']
