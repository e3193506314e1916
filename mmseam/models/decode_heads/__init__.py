# Copyright (c) mmseam contributors. All rights reserved.
from .largefov_head import LargeFOVHead

__all__ = ['LargeFOVHead']
