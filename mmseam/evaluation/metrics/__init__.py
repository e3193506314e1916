# Copyright (c) mmseam contributors. All rights reserved.
from .cam_metric import CAMSweepMetric

__all__ = ['CAMSweepMetric']
