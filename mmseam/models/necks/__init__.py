# Copyright (c) mmseam contributors. All rights reserved.
from .pcm import PixelCorrelationModule

__all__ = ['PixelCorrelationModule']
