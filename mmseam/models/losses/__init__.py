# Copyright (c) mmseam contributors. All rights reserved.
from .seam_losses import (EquivariantCrossRegLoss, EquivariantRegLoss,
                          MinPoolLoss, MultiLabelSoftMarginLoss)

__all__ = [
    'MultiLabelSoftMarginLoss', 'MinPoolLoss', 'EquivariantRegLoss',
    'EquivariantCrossRegLoss'
]
from .affinity_loss import AffinityLoss  # noqa: E402

__all__ += ['AffinityLoss']
