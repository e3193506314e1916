# Copyright (c) mmseam contributors. All rights reserved.
"""Tests of the MXNet ``.params`` parser and the official-weight converter."""
import importlib.util
import os
import os.path as osp
import struct
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from torch import Tensor

import mmseam  # noqa: F401
from mmseam.models.backbones import ResNet38d
from mmseam.utils.mxnet_params import (MXNetParamsError, load_mxnet_params,
                                       read_ndarray_list)

init_default_scope('mmseg')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_by_path(name: str, path: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


converter = _load_by_path(
    'seam_official_to_mmseam',
    osp.join(REPO, 'tools', 'model_converters', 'seam_official_to_mmseam.py'))
reference = _load_by_path('official_reference',
                          osp.join(REPO, 'tests', 'official_reference.py'))

# ---------------------------------------------------------------------------
# A small writer of the MXNet NDArray-list format (the inverse of the parser)
# ---------------------------------------------------------------------------
DTYPE_FLAGS = {
    np.dtype('float32'): 0,
    np.dtype('float64'): 1,
    np.dtype('float16'): 2,
    np.dtype('uint8'): 3,
    np.dtype('int32'): 4,
    np.dtype('int8'): 5,
    np.dtype('int64'): 6,
}
MAGIC = dict(v1=0xF993FAC8, v2=0xF993FAC9, v3=0xF993FACA)


def encode_ndarray(array: Optional[np.ndarray],
                   version: str = 'v2',
                   type_flag: Optional[int] = None,
                   stype: int = 0) -> bytes:
    """Serialise one dense NDArray (``None`` = empty array)."""
    out = b''
    shape = () if array is None else array.shape
    if version in ('v2', 'v3'):
        out += struct.pack('<Ii', MAGIC[version], stype)
    if version == 'legacy':
        out += struct.pack(f'<I{len(shape)}I', len(shape), *shape)
    else:
        if version == 'v1':
            out += struct.pack('<I', MAGIC['v1'])
        ndim = -1 if (array is None and version == 'v3') else len(shape)
        out += struct.pack(f'<i{len(shape)}q', ndim, *shape)
    if array is None:
        return out
    flag = DTYPE_FLAGS[array.dtype] if type_flag is None else type_flag
    out += struct.pack('<iii', 2, 1, flag)  # gpu(1), as saved from a GPU
    return out + array.astype(array.dtype.newbyteorder('<')).tobytes()


def write_ndarray_list(path: str,
                       arrays: Sequence[Optional[np.ndarray]],
                       names: Sequence[str],
                       version: str = 'v2') -> None:
    """Write ``arrays`` + ``names`` like ``mx.nd.save``."""
    with open(path, 'wb') as f:
        f.write(struct.pack('<QQQ', 0x112, 0, len(arrays)))
        for array in arrays:
            f.write(encode_ndarray(array, version))
        f.write(struct.pack('<Q', len(names)))
        for name in names:
            raw = name.encode('utf-8')
            f.write(struct.pack('<Q', len(raw)) + raw)


def official_to_mxnet_name(key: str) -> Optional[str]:
    """Official PyTorch key -> MXNet A1 name (hand-written inverse)."""
    bn_names = dict(
        weight='arg:{}_gamma',
        bias='arg:{}_beta',
        running_mean='aux:{}_moving_mean',
        running_var='aux:{}_moving_var')
    parts = key.split('.')
    if parts[-1] == 'num_batches_tracked':
        return None  # MXNet has no such buffer
    if key == 'conv1a.weight':
        return 'arg:conv1a_weight'
    if parts[0] == 'bn7':
        return bn_names[parts[1]].format('bn7')
    block, layer, param = parts
    stage = block[1]
    suffix = 'a' if '_' not in block else 'b' + block.split('_')[1]
    layer_type, branch = layer.split('_')  # 'conv', 'branch2a'
    if layer_type == 'conv':
        return f'arg:res{stage}{suffix}_{branch}_weight'
    return bn_names[param].format(f'bn{stage}{suffix}_{branch}')


def official_backbone_state(seed: int = 0) -> 'OrderedDict[str, Tensor]':
    """Random full-size official ResNet-38 state dict (real tensors)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.device('meta'):
        shapes = {
            k: v.shape
            for k, v in reference.OfficialResNet38d().state_dict().items()
        }
    out = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            out[key] = torch.tensor(7)
        elif key.endswith('running_var'):
            out[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            out[key] = torch.randn(shape, generator=gen)
    return out


def meta_official_state(kind: str = 'imagenet',
                        num_classes: int = 21) -> 'OrderedDict[str, Tensor]':
    """Official state dict on the meta device (shapes only, no memory)."""
    with torch.device('meta'):
        if kind == 'seam':
            net = reference.OfficialSEAMNet(num_classes)
        else:
            net = reference.OfficialResNet38d()
        return OrderedDict(net.state_dict())


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('version', ['legacy', 'v1', 'v2', 'v3'])
def test_params_round_trip(tmp_path, version):
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        rng.standard_normal(7).astype(np.float32),
        rng.standard_normal((2, 5)).astype(np.float16),
        np.arange(6, dtype=np.int64).reshape(3, 2),
        rng.integers(0, 255, (1, 2, 3), dtype=np.uint8),
    ]
    names = [
        'arg:conv1a_weight', 'aux:bn7_moving_mean', 'arg:x_half',
        'arg:x_int64', 'aux:x_uint8'
    ]
    path = str(tmp_path / f'tiny_{version}.params')
    write_ndarray_list(path, arrays, names, version)

    loaded, loaded_names = read_ndarray_list(path)
    assert loaded_names == names
    for got, want in zip(loaded, arrays):
        assert got.dtype == want.dtype
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)

    params = load_mxnet_params(path)
    assert list(params) == names
    assert params['arg:conv1a_weight'].dtype == np.float32
    assert params['arg:conv1a_weight'].shape == (4, 3, 3, 3)
    # writable, so torch.from_numpy shares memory without warnings
    assert params['arg:conv1a_weight'].flags.writeable


def test_params_empty_array_and_bfloat16(tmp_path):
    path = str(tmp_path / 'misc.params')
    values = np.array([1.5, -2.25, 3.0], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype(np.uint16)
    body = struct.pack('<QQQ', 0x112, 0, 2)
    body += encode_ndarray(None, 'v2')
    body += encode_ndarray(bf16, 'v2', type_flag=12)
    body += struct.pack('<Q', 2)
    for name in ('arg:none', 'arg:bf16'):
        body += struct.pack('<Q', len(name)) + name.encode()
    with open(path, 'wb') as f:
        f.write(body)
    arrays, names = read_ndarray_list(path)
    assert arrays[0] is None
    assert arrays[1].dtype == np.float32
    np.testing.assert_array_equal(arrays[1], values)
    assert list(load_mxnet_params(path)) == ['arg:bf16']


def test_params_errors(tmp_path):
    path = str(tmp_path / 'bad.params')
    with open(path, 'wb') as f:
        f.write(struct.pack('<QQQ', 0x113, 0, 0))
    with pytest.raises(MXNetParamsError, match='bad.params.*magic 0x112'):
        read_ndarray_list(path)

    # truncated data
    good = str(tmp_path / 'good.params')
    write_ndarray_list(good, [np.ones((8, 8), np.float32)], ['arg:a'])
    with open(good, 'rb') as f:
        raw = f.read()
    cut = str(tmp_path / 'cut.params')
    with open(cut, 'wb') as f:
        f.write(raw[:60])
    with pytest.raises(MXNetParamsError, match='cut.params.*truncated'):
        read_ndarray_list(cut)

    # an NDArray header that is neither a magic nor a legacy ndim
    junk = str(tmp_path / 'junk.params')
    with open(junk, 'wb') as f:
        f.write(struct.pack('<QQQI', 0x112, 0, 1, 0x12345678))
    with pytest.raises(MXNetParamsError, match='junk.params.*array #0'):
        read_ndarray_list(junk)

    # sparse storage
    sparse = str(tmp_path / 'sparse.params')
    with open(sparse, 'wb') as f:
        f.write(struct.pack('<QQQ', 0x112, 0, 1))
        f.write(encode_ndarray(np.ones(2, np.float32), 'v2', stype=1))
    with pytest.raises(MXNetParamsError, match='sparse'):
        read_ndarray_list(sparse)

    # names count != arrays count
    names = str(tmp_path / 'names.params')
    write_ndarray_list(names, [np.ones(2, np.float32)], ['arg:a', 'arg:b'])
    with pytest.raises(MXNetParamsError, match='1 arrays but 2 names'):
        read_ndarray_list(names)

    # unnamed list cannot be a parameter file
    unnamed = str(tmp_path / 'unnamed.params')
    write_ndarray_list(unnamed, [np.ones(2, np.float32)], [])
    assert read_ndarray_list(unnamed)[1] == []
    with pytest.raises(MXNetParamsError, match='unnamed'):
        load_mxnet_params(unnamed)

    with pytest.raises(FileNotFoundError, match='missing.params'):
        read_ndarray_list(str(tmp_path / 'missing.params'))


# ---------------------------------------------------------------------------
# Name mapping
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('mx_name, official', [
    ('arg:conv1a_weight', 'conv1a.weight'),
    ('arg:res2a_branch1_weight', 'b2.conv_branch1.weight'),
    ('arg:res2a_branch2a_weight', 'b2.conv_branch2a.weight'),
    ('arg:bn2a_branch2a_gamma', 'b2.bn_branch2a.weight'),
    ('arg:bn2a_branch2a_beta', 'b2.bn_branch2a.bias'),
    ('aux:bn2b1_branch2b1_moving_mean', 'b2_1.bn_branch2b1.running_mean'),
    ('aux:bn4b5_branch2a_moving_var', 'b4_5.bn_branch2a.running_var'),
    ('arg:res4b5_branch2b1_weight', 'b4_5.conv_branch2b1.weight'),
    ('arg:res5b2_branch2b1_weight', 'b5_2.conv_branch2b1.weight'),
    ('arg:res6a_branch2b2_weight', 'b6.conv_branch2b2.weight'),
    ('aux:bn7a_branch2b2_moving_var', 'b7.bn_branch2b2.running_var'),
    ('arg:bn7_gamma', 'bn7.weight'),
    ('aux:bn7_moving_mean', 'bn7.running_mean'),
    ('bn7_beta', 'bn7.bias'),
    ('arg:linear1000_weight', None),
    ('arg:linear1000_bias', None),
])
def test_mxnet_name_mapping(mx_name, official):
    assert converter.mxnet_name_to_official(mx_name) == official


@pytest.mark.parametrize('bad', [
    'arg:fc8_weight', 'arg:res2c_branch1_weight', 'arg:res2a_branch1_bias',
    'arg:bn2a_branch2a_weight', 'aux:bn7_running_mean'
])
def test_mxnet_name_mapping_errors(bad):
    with pytest.raises(converter.ConversionError, match=bad):
        converter.mxnet_name_to_official(bad)


def test_mxnet_mapping_covers_every_official_key():
    keys = [
        k for k in meta_official_state()
        if not k.endswith('num_batches_tracked')
    ]
    assert len(keys) == 191  # 43 conv weights + 37 BN x 4
    for key in keys:
        mx_name = official_to_mxnet_name(key)
        assert converter.mxnet_name_to_official(mx_name) == key


# ---------------------------------------------------------------------------
# State-dict conversion (meta tensors: shapes only)
# ---------------------------------------------------------------------------
def test_convert_imagenet_keys():
    state = meta_official_state()
    state['linear1000.weight'] = torch.empty(1000, 4096, device='meta')
    state['linear1000.bias'] = torch.empty(1000, device='meta')
    out, info = converter.convert_official_state_dict(state)
    assert info == dict(kind='imagenet', num_classes=None)
    with torch.device('meta'):
        model_keys = list(ResNet38d().state_dict())
    assert list(out) == ['backbone.' + k for k in model_keys]
    assert out['backbone.b4_5.bn_branch2b1.running_var'].shape == (512, )


def test_convert_seam_keys():
    state = meta_official_state('seam', num_classes=21)
    out, info = converter.convert_official_state_dict(state, num_classes=21)
    assert info == dict(kind='seam', num_classes=21)
    heads = [k for k in out if not k.startswith('backbone.')]
    assert heads == [
        'classifier.weight', 'neck.proj.0.weight', 'neck.proj.1.weight',
        'neck.fuse.weight'
    ]
    assert out['classifier.weight'].shape == (21, 4096, 1, 1)
    assert out['neck.proj.0.weight'].shape == (64, 512, 1, 1)
    assert out['neck.proj.1.weight'].shape == (128, 1024, 1, 1)
    assert out['neck.fuse.weight'].shape == (192, 195, 1, 1)
    assert len(out) == len(state)

    # any class count is fine without --num-classes
    state = meta_official_state('seam', num_classes=5)
    out, info = converter.convert_official_state_dict(state)
    assert info['num_classes'] == 5
    with pytest.raises(converter.ConversionError, match='5 classes.*21'):
        converter.convert_official_state_dict(state, num_classes=21)


def test_convert_errors():
    state = meta_official_state()
    del state['b3_1.conv_branch2b1.weight']
    state['b3_1.conv_branch2c.weight'] = torch.empty(1, device='meta')
    with pytest.raises(
            converter.ConversionError,
            match=r'(?s)ResNet-38 ImageNet.*Missing keys: '
            r'\[b3_1.conv_branch2b1.weight\].*Unexpected keys: '
            r'\[b3_1.conv_branch2c.weight\]'):
        converter.convert_official_state_dict(state, src='x.pth')

    # a SEAM checkpoint missing a PCM layer
    state = meta_official_state('seam')
    del state['f9.weight']
    with pytest.raises(
            converter.ConversionError,
            match=r'trained official SEAM.*Missing keys: \[f9.weight\]'):
        converter.convert_official_state_dict(state)

    # head layers while ImageNet weights were requested
    state = meta_official_state('seam')
    with pytest.raises(converter.ConversionError, match='--kind seam'):
        converter.convert_official_state_dict(state, kind='imagenet')

    # wrong shape
    state = meta_official_state()
    state['bn7.weight'] = torch.empty(2048, device='meta')
    with pytest.raises(
            converter.ConversionError,
            match=r'bn7.weight: \(2048,\) != \(4096,\)'):
        converter.convert_official_state_dict(state)

    # already converted
    state = OrderedDict(
        ('backbone.' + k, v) for k, v in meta_official_state().items())
    with pytest.raises(converter.ConversionError, match='already'):
        converter.convert_official_state_dict(state)


# ---------------------------------------------------------------------------
# Files end to end
# ---------------------------------------------------------------------------
def _check_converted(dst: str, source: Dict[str, torch.Tensor],
                     kind: str) -> Dict:
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    assert ckpt['meta']['kind'] == kind
    state = ckpt['state_dict']
    for key, value in source.items():
        if key.endswith('num_batches_tracked'):
            continue
        new_key = converter.HEAD_KEY_MAP.get(key, 'backbone.' + key)
        torch.testing.assert_close(state[new_key], value, rtol=0, atol=0)
    # no temp file left behind
    assert [f for f in os.listdir(osp.dirname(dst))
            if f.endswith('.tmp')] == []
    return ckpt


def test_mxnet_file_end_to_end(tmp_path, monkeypatch, capsys):
    """Full-size A1 ``.params`` -> CLI -> Pretrained init of ResNet38d."""
    source = official_backbone_state(seed=1)
    names: List[str] = []
    arrays: List[np.ndarray] = []
    for key, value in source.items():
        name = official_to_mxnet_name(key)
        if name is not None:
            names.append(name)
            arrays.append(value.numpy())
    rng = np.random.default_rng(0)
    names += ['arg:linear1000_weight', 'arg:linear1000_bias']
    arrays += [
        rng.standard_normal((1000, 4096)).astype(np.float32),
        np.zeros(1000, np.float32)
    ]
    src = str(tmp_path / 'ilsvrc-cls_rna-a1_cls1000_ep-0001.params')
    write_ndarray_list(src, arrays, names, version='legacy')
    del arrays

    dst = str(tmp_path / 'out' / 'resnet38d_a1_mmseam.pth')
    monkeypatch.setattr(sys, 'argv', ['seam_official_to_mmseam.py', src, dst])
    converter.main()
    assert 'kind imagenet' in capsys.readouterr().out
    ckpt = _check_converted(dst, source, 'imagenet')
    assert ckpt['meta']['source_format'] == 'mxnet'
    assert ckpt['meta']['num_classes'] is None
    assert all(k.startswith('backbone.') for k in ckpt['state_dict'])
    assert int(ckpt['state_dict']['backbone.bn7.num_batches_tracked']) == 0
    del ckpt

    # loads into the backbone through init_cfg=Pretrained(prefix=backbone.)
    model = ResNet38d(
        init_cfg=dict(type='Pretrained', checkpoint=dst, prefix='backbone.'))
    model.init_weights()
    for key, value in model.state_dict().items():
        if not key.endswith('num_batches_tracked'):
            assert torch.equal(value, source[key]), key


def test_pytorch_seam_file_end_to_end(tmp_path):
    """``module.``-prefixed official SEAM state dict (DataParallel save)."""
    source = official_backbone_state(seed=2)
    gen = torch.Generator().manual_seed(3)
    head_shapes = {
        'fc8.weight': (21, 4096, 1, 1),
        'f8_3.weight': (64, 512, 1, 1),
        'f8_4.weight': (128, 1024, 1, 1),
        'f9.weight': (192, 195, 1, 1),
    }
    for key, shape in head_shapes.items():
        source[key] = torch.randn(shape, generator=gen)
    src = str(tmp_path / 'resnet38_SEAM.pth')
    torch.save(OrderedDict(('module.' + k, v) for k, v in source.items()), src)
    dst = str(tmp_path / 'seam_mmseam.pth')
    meta = converter.convert(src, dst, num_classes=21)
    assert meta['kind'] == 'seam' and meta['num_classes'] == 21
    assert meta['source_format'] == 'pytorch'
    assert meta['converted_from'] == 'resnet38_SEAM.pth'
    ckpt = _check_converted(dst, source, 'seam')
    # VOC names for mmseg.apis.init_model
    classes = ckpt['meta']['dataset_meta']['classes']
    assert len(classes) == 21 and classes[:2] == ('background', 'aeroplane')
    assert ckpt['state_dict']['backbone.b2.bn_branch2a.num_batches_tracked'] \
        == 7

    with pytest.raises(converter.ConversionError, match='21 classes.*20'):
        converter.convert(src, str(tmp_path / 'x.pth'), num_classes=20)
    assert not osp.exists(str(tmp_path / 'x.pth'))


def test_bad_files(tmp_path):
    bad = str(tmp_path / 'weights.params')
    with open(bad, 'wb') as f:
        f.write(b'\x00' * 64)
    with pytest.raises(MXNetParamsError, match='weights.params'):
        converter.convert(bad, str(tmp_path / 'o.pth'))

    garbage = str(tmp_path / 'weights.pth')
    with open(garbage, 'wb') as f:
        f.write(b'not a checkpoint at all')
    with pytest.raises(converter.ConversionError, match='weights.pth'):
        converter.convert(garbage, str(tmp_path / 'o.pth'))

    listfile = str(tmp_path / 'list.pth')
    torch.save([torch.zeros(1)], listfile)
    with pytest.raises(converter.ConversionError, match='expected a state'):
        converter.convert(listfile, str(tmp_path / 'o.pth'))
    assert not osp.exists(str(tmp_path / 'o.pth'))


def test_cli_error_exits_with_message(tmp_path, monkeypatch):
    bad = str(tmp_path / 'broken.params')
    with open(bad, 'wb') as f:
        f.write(b'xx')
    monkeypatch.setattr(
        sys, 'argv',
        ['seam_official_to_mmseam.py', bad,
         str(tmp_path / 'o.pth')])
    with pytest.raises(SystemExit, match='error: .*broken.params.*0x112'):
        converter.main()
