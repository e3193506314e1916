# Copyright (c) mmseam contributors. All rights reserved.
from .resnet38d import PreActBottleneckBlock, PreActResBlock, ResNet38d

__all__ = ['ResNet38d', 'PreActResBlock', 'PreActBottleneckBlock']
