# Copyright (c) mmseam contributors. All rights reserved.
from .efficientnet_lite import EfficientNetLite, MBConvBlock
from .resnet38d import PreActBottleneckBlock, PreActResBlock, ResNet38d
from .tiny_convnet import TinyConvNet

__all__ = [
    'ResNet38d', 'PreActResBlock', 'PreActBottleneckBlock', 'TinyConvNet',
    'EfficientNetLite', 'MBConvBlock'
]
