# Copyright (c) mmseam contributors. All rights reserved.
"""Convert official SEAM / ResNet-38 weights into mmseam checkpoints.

Accepted sources (the kind is detected from the keys):

* ``imagenet``: the ResNet-38 (model A1) ImageNet weights, either the
  original MXNet file ``ilsvrc-cls_rna-a1_cls1000_ep-0001.params`` (read
  directly, MXNet is *not* needed) or its PyTorch conversion
  ``ilsvrc-cls_rna-a1_cls1000_ep-0001.pth`` (keys ``conv1a.weight``,
  ``b2.bn_branch2a.weight``, ..., ``bn7.running_var``). The 1000-class
  ``linear1000`` layer is dropped. Output keys: ``backbone.*`` only.
* ``seam``: a trained official SEAM checkpoint (``resnet38_SEAM.pth``): the
  backbone plus ``fc8`` (CAM classifier), ``f8_3``, ``f8_4`` and ``f9`` (PCM).

``module.`` prefixes (``DataParallel``) and a wrapping ``{'state_dict': ...}``
are removed. The output is ``{'state_dict': ..., 'meta': ...}`` with the key
names of mmseam's SEAM segmentor:

==========================  =================================
official                    mmseam
==========================  =================================
``conv1a.*``, ``b*.*``,     ``backbone.<same name>``
``bn7.*``                   (:class:`mmseam.models.ResNet38d`)
``fc8.weight``              ``classifier.weight``
``f8_3.weight``             ``neck.proj.0.weight``
``f8_4.weight``             ``neck.proj.1.weight``
``f9.weight``               ``neck.fuse.weight``
==========================  =================================

Missing BN ``num_batches_tracked`` buffers (MXNet files, old PyTorch
checkpoints) are added as 0. Any missing, unexpected or mis-shaped key stops
the conversion with a message that lists them.

Usage::

    python tools/model_converters/seam_official_to_mmseam.py \\
        ilsvrc-cls_rna-a1_cls1000_ep-0001.params \\
        pretrained/resnet38d_ilsvrc_mmseam.pth
    python tools/model_converters/seam_official_to_mmseam.py \\
        resnet38_SEAM.pth pretrained/seam_resnet38d_voc_mmseam.pth \\
        --num-classes 21

Load an ``imagenet`` result with
``backbone.init_cfg=dict(type='Pretrained', checkpoint=PATH,
prefix='backbone.')`` (or ``load_from``); a ``seam`` result with
``load_from`` / ``tools/test.py CONFIG PATH``.
"""
import argparse
import os
import os.path as osp
import pickle
import re
import struct
import tempfile
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

import mmseam  # noqa: F401  (registers ResNet38d, patches mmcv)
from mmseam.models.backbones.resnet38d import ResNet38d
from mmseam.utils.mxnet_params import (NDARRAY_LIST_MAGIC, MXNetParamsError,
                                       load_mxnet_params)

BACKBONE_PREFIX = 'backbone.'
#: official SEAM head parameter -> mmseam SEAM segmentor parameter
HEAD_KEY_MAP = OrderedDict([
    ('fc8.weight', 'classifier.weight'),
    ('f8_3.weight', 'neck.proj.0.weight'),
    ('f8_4.weight', 'neck.proj.1.weight'),
    ('f9.weight', 'neck.fuse.weight'),
])
#: shapes of the official PCM layers (fc8 depends on the class count)
PCM_SHAPES = {
    'f8_3.weight': (64, 512, 1, 1),
    'f8_4.weight': (128, 1024, 1, 1),
    'f9.weight': (192, 195, 1, 1),
}
#: modules of the ImageNet classifier that are dropped
IMAGENET_DROPPED = ('linear1000', )
KINDS = dict(
    imagenet=('the ResNet-38 ImageNet weights (keys conv1a, b2..b7, bn7; '
              'e.g. ilsvrc-cls_rna-a1_cls1000_ep-0001.params/.pth)'),
    seam=('a trained official SEAM model (ResNet-38 keys plus fc8, f8_3, '
          'f8_4, f9; e.g. resnet38_SEAM.pth)'))
_BN_MX_TO_PT = {
    'gamma': 'weight',
    'beta': 'bias',
    'moving_mean': 'running_mean',
    'moving_var': 'running_var',
}
_MX_BLOCK = re.compile(r'^(res|bn)(\d+)([a-z])(\d*)_branch([0-9a-z]+)_'
                       r'(weight|gamma|beta|moving_mean|moving_var)$')
_MX_BN7 = re.compile(r'^bn7_(gamma|beta|moving_mean|moving_var)$')


class ConversionError(ValueError):
    """The source does not fit the expected official layout."""


def mxnet_name_to_official(name: str) -> Optional[str]:
    """Map an MXNet A1 parameter name to the official PyTorch key.

    Follows the official ``convert_mxnet_to_torch``: ``res<S>a`` -> ``b<S>``,
    ``res<S>b<K>`` -> ``b<S>_<K>``, ``res*_branch<X>_weight`` ->
    ``conv_branch<X>.weight``, ``bn*_branch<X>_{gamma,beta,moving_mean,
    moving_var}`` -> ``bn_branch<X>.{weight,bias,running_mean,running_var}``,
    ``bn7_*`` -> ``bn7.*``, ``conv1a_weight`` -> ``conv1a.weight``.

    Args:
        name (str): MXNet name, with or without the ``arg:``/``aux:`` prefix
            (e.g. ``'aux:bn4b3_branch2b1_moving_var'``).

    Returns:
        str | None: The official key (``'b4_3.bn_branch2b1.running_var'``),
        or ``None`` for a dropped ImageNet classifier parameter.

    Raises:
        ConversionError: the name is not part of the A1 model.
    """
    bare = name.split(':', 1)[1] if name[:4] in ('arg:', 'aux:') else name
    if bare.split('_', 1)[0] in IMAGENET_DROPPED:
        return None
    if bare == 'conv1a_weight':
        return 'conv1a.weight'
    match = _MX_BN7.match(bare)
    if match:
        return f'bn7.{_BN_MX_TO_PT[match.group(1)]}'
    match = _MX_BLOCK.match(bare)
    if match:
        kind, stage, letter, index, branch, param = match.groups()
        if letter == 'a' and not index:
            block = f'b{stage}'
        elif letter == 'b' and index:
            block = f'b{stage}_{index}'
        else:
            match = None
    if match is None:
        raise ConversionError(
            f'unknown MXNet parameter name "{name}": not part of the '
            f'ResNet-38 A1 model (expected e.g. arg:conv1a_weight, '
            f'arg:res2a_branch1_weight, aux:bn4b3_branch2a_moving_mean, '
            f'arg:bn7_gamma, arg:linear1000_weight).')
    if kind == 'res':
        if param != 'weight':
            raise ConversionError(
                f'MXNet parameter "{name}": conv layers of ResNet-38 have '
                f'only a weight (bias-free), got "{param}".')
        return f'{block}.conv_branch{branch}.weight'
    if param == 'weight':
        raise ConversionError(
            f'MXNet parameter "{name}": a BN layer has gamma/beta/'
            f'moving_mean/moving_var, not "weight".')
    return f'{block}.bn_branch{branch}.{_BN_MX_TO_PT[param]}'


def mxnet_params_to_official(
        params: Dict[str, np.ndarray]) -> 'OrderedDict[str, torch.Tensor]':
    """Rename a loaded MXNet A1 parameter dict to official PyTorch keys.

    Args:
        params (dict[str, np.ndarray]): Output of
            :func:`mmseam.utils.mxnet_params.load_mxnet_params`.

    Returns:
        OrderedDict[str, Tensor]: Official state dict (``linear1000``
        dropped).
    """
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for name, array in params.items():
        key = mxnet_name_to_official(name)
        if key is None:
            continue
        if key in out:
            raise ConversionError(
                f'MXNet parameters map twice onto "{key}" (second: "{name}").')
        out[key] = torch.from_numpy(np.ascontiguousarray(array))
    return out


def is_mxnet_params(path: str) -> bool:
    """Whether ``path`` starts with the MXNet NDArray-list magic."""
    with open(path, 'rb') as f:
        head = f.read(8)
    return len(head) == 8 and struct.unpack('<Q', head)[0] == \
        NDARRAY_LIST_MAGIC


def load_official(path: str) -> Tuple['OrderedDict[str, torch.Tensor]', str]:
    """Read an official checkpoint into an official-key state dict.

    Args:
        path (str): ``.params`` (MXNet) or ``.pth`` (PyTorch) file.

    Returns:
        tuple[OrderedDict[str, Tensor], str]: The state dict (``module.``
        prefixes removed) and the source format (``'mxnet'`` or
        ``'pytorch'``).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    if path.endswith('.params') or is_mxnet_params(path):
        return mxnet_params_to_official(load_mxnet_params(path)), 'mxnet'
    try:
        try:
            obj = torch.load(path, map_location='cpu', weights_only=True)
        except pickle.UnpicklingError:
            # Official checkpoints are plain tensor dicts; some wrappers
            # pickle extra objects. Only convert files you trust.
            obj = torch.load(path, map_location='cpu', weights_only=False)
    except Exception as err:
        raise ConversionError(
            f'{path}: cannot be read as a PyTorch checkpoint nor as an MXNet '
            f'.params file ({type(err).__name__}: {err}). Pass the official '
            f'.pth state dict or the MXNet .params file.') from None
    if isinstance(obj, dict):
        for wrapper in ('state_dict', 'model'):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not all(
            isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConversionError(
            f'{path}: expected a state dict (name -> tensor), got '
            f'{type(obj).__name__}.')
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for key, value in obj.items():
        while key.startswith('module.'):
            key = key[len('module.'):]
        out[key] = value
    return out, 'pytorch'


def expected_backbone_shapes() -> 'OrderedDict[str, Tuple[int, ...]]':
    """Official backbone keys and shapes, from a meta-device ResNet38d."""
    with torch.device('meta'):
        backbone = ResNet38d()
    return OrderedDict(
        (k, tuple(v.shape)) for k, v in backbone.state_dict().items())


def _short(keys: List[str], limit: int = 20) -> str:
    shown = ', '.join(keys[:limit])
    more = f', ... ({len(keys)} in total)' if len(keys) > limit else ''
    return f'[{shown}{more}]'


def detect_kind(state_dict: Dict[str, torch.Tensor]) -> str:
    """``'seam'`` if any SEAM head key is present, else ``'imagenet'``."""
    return 'seam' if any(k in state_dict for k in HEAD_KEY_MAP) else \
        'imagenet'


def convert_official_state_dict(
    state_dict: Dict[str, torch.Tensor],
    kind: str = 'auto',
    num_classes: Optional[int] = None,
    src: str = '<state_dict>'
) -> Tuple['OrderedDict[str, torch.Tensor]', Dict]:
    """Convert an official-key state dict into mmseam SEAM keys.

    Args:
        state_dict (dict[str, Tensor]): Official keys (``conv1a.weight``,
            ..., optionally ``fc8.weight``, ``f8_3.weight``, ``f8_4.weight``,
            ``f9.weight``; ``linear1000.*`` is dropped).
        kind (str): ``'imagenet'``, ``'seam'`` or ``'auto'`` (detected from
            the keys). Defaults to ``'auto'``.
        num_classes (int, optional): For ``seam``, the expected class count
            (rows of ``fc8``, background included); ``None`` accepts any.
        src (str): Source name used in error messages.

    Returns:
        tuple[OrderedDict[str, Tensor], dict]: mmseam state dict and
        ``dict(kind=..., num_classes=...)``.

    Raises:
        ConversionError: missing / unexpected / mis-shaped keys, or a class
            count different from ``num_classes``.
    """
    if kind == 'auto':
        kind = detect_kind(state_dict)
    if kind not in KINDS:
        raise ConversionError(f'unknown checkpoint kind "{kind}"; use one '
                              f'of {sorted(KINDS)} or "auto".')
    if any(k.startswith(BACKBONE_PREFIX) for k in state_dict):
        raise ConversionError(
            f'{src}: keys start with "{BACKBONE_PREFIX}": this looks like an '
            f'mmseam checkpoint already; it needs no conversion.')
    state_dict = OrderedDict((k, v) for k, v in state_dict.items()
                             if k.split('.', 1)[0] not in IMAGENET_DROPPED)

    expected = expected_backbone_shapes()
    if kind == 'seam':
        fc8 = state_dict.get('fc8.weight')
        classes = None if fc8 is None else int(fc8.shape[0])
        if num_classes is not None and classes is not None and \
                classes != num_classes:
            raise ConversionError(
                f'{src}: fc8.weight has {classes} classes but '
                f'--num-classes is {num_classes}. Drop --num-classes or '
                f'set it to the model\'s class count (background '
                f'included).')
        # (when fc8 is absent it is reported as missing below)
        expected['fc8.weight'] = (classes or num_classes or 0, 4096, 1, 1)
        expected.update(PCM_SHAPES)
    else:
        classes = None

    # num_batches_tracked is absent from MXNet and old PyTorch files.
    for key in expected:
        if key.endswith('.num_batches_tracked') and key not in state_dict:
            state_dict[key] = torch.tensor(0, dtype=torch.long)

    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        hint = ''
        if kind == 'imagenet' and any(
                k.split('.', 1)[0] in ('fc8', 'f8_3', 'f8_4', 'f9')
                for k in unexpected):
            hint = ' (pass --kind seam for a trained SEAM checkpoint)'
        raise ConversionError(
            f'{src}: the keys do not fit {KINDS[kind]}{hint}. '
            f'Missing keys: {_short(missing)}. '
            f'Unexpected keys: {_short(unexpected)}.')
    bad = [
        f'{k}: {tuple(state_dict[k].shape)} != {shape}'
        for k, shape in expected.items() if tuple(state_dict[k].shape) != shape
    ]
    if bad:
        raise ConversionError(
            f'{src}: shapes do not fit {KINDS[kind]}: {_short(bad)}.')

    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for key in expected:
        value = state_dict[key]
        if value.is_floating_point():
            value = value.float()
        new_key = HEAD_KEY_MAP.get(key, BACKBONE_PREFIX + key)
        out[new_key] = value.contiguous()
    return out, dict(kind=kind, num_classes=classes)


def convert(src: str,
            dst: str,
            kind: str = 'auto',
            num_classes: Optional[int] = None) -> Dict:
    """Convert the file ``src`` into the mmseam checkpoint ``dst``.

    Args:
        src (str): Official ``.params`` or ``.pth`` file.
        dst (str): Output ``.pth`` (written atomically; folders created).
        kind (str): ``'auto'``, ``'imagenet'`` or ``'seam'``.
        num_classes (int, optional): Expected class count of a SEAM model.

    Returns:
        dict: The ``meta`` written into the checkpoint.
    """
    official, fmt = load_official(src)
    state_dict, info = convert_official_state_dict(
        official, kind=kind, num_classes=num_classes, src=src)
    meta = dict(
        converted_from=osp.basename(src),
        source_format=fmt,
        kind=info['kind'],
        num_classes=info['num_classes'],
        mmseam_version=mmseam.__version__,
        converter='tools/model_converters/seam_official_to_mmseam.py')
    if info['kind'] == 'seam' and info['num_classes'] == 21:
        # the official SEAM is a VOC model: class names and palette for
        # mmseg.apis.init_model (which needs them in meta.dataset_meta)
        from mmseam.datasets import VOCClsDataset
        meta['dataset_meta'] = dict(
            classes=tuple(VOCClsDataset.METAINFO['classes']),
            palette=[list(c) for c in VOCClsDataset.METAINFO['palette']])
    out_dir = osp.dirname(osp.abspath(dst))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix='.' + osp.basename(dst) + '.', suffix='.tmp', dir=out_dir)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(dict(state_dict=state_dict, meta=meta), f)
        os.replace(tmp, dst)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return meta


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert official SEAM / ResNet-38 weights (MXNet '
        '.params or PyTorch .pth) into an mmseam checkpoint.')
    parser.add_argument('src', help='official .params or .pth file')
    parser.add_argument('dst', help='output mmseam .pth file')
    parser.add_argument(
        '--kind',
        choices=['auto', 'imagenet', 'seam'],
        default='auto',
        help='checkpoint kind (default: detected from the keys)')
    parser.add_argument(
        '--num-classes',
        type=int,
        default=None,
        help='expected class count of a SEAM checkpoint, background '
        'included (checked against fc8); ignored for ImageNet weights')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        meta = convert(
            args.src, args.dst, kind=args.kind, num_classes=args.num_classes)
    except (ConversionError, MXNetParamsError, FileNotFoundError) as err:
        raise SystemExit(f'error: {err}') from None
    if meta['kind'] == 'imagenet' and args.num_classes is not None:
        print('Note: --num-classes is ignored for ImageNet weights '
              '(no classifier is converted).')
    print(f'Converted {args.src} ({meta["source_format"]}, kind '
          f'{meta["kind"]}, num_classes {meta["num_classes"]}) -> '
          f'{args.dst}')


if __name__ == '__main__':
    main()
