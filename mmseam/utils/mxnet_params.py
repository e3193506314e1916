# Copyright (c) mmseam contributors. All rights reserved.
"""Read MXNet ``.params`` files (NDArray lists) without MXNet.

The official ResNet-38 ImageNet weights (``ilsvrc-cls_rna-a1_cls1000_ep-0001
.params``, itijyou/ademxapp model A1) are an MXNet NDArray list, the file
written by ``mx.nd.save`` / ``mx.model.save_checkpoint``. The layout, all
little endian:

.. code-block:: none

    uint64  list magic 0x112
    uint64  reserved (0)
    uint64  number of arrays N
    N x NDArray
    uint64  number of names (0 or N)
    names: uint64 byte length + bytes (e.g. 'arg:conv1a_weight',
           'aux:bn2a_branch2a_moving_mean')

and one dense NDArray is

.. code-block:: none

    uint32  magic: 0xF993FAC9 (V2, with storage type), 0xF993FACA (V3,
            numpy-shape semantics), 0xF993FAC8 (V1, int64 shape), or anything
            else = legacy format, where this word already is ``ndim``
    [V2/V3] int32 storage type (0 = dense; sparse is not supported here)
    shape:  V1/V2/V3: int32 ndim + ndim x int64 dims;
            legacy:   (ndim read above) + ndim x uint32 dims
            ndim 0 (V3: -1) marks an empty ("none") array: nothing follows
    int32   device type, int32 device id (ignored: always loaded on CPU)
    int32   dtype flag (mshadow: 0 float32, 1 float64, 2 float16, 3 uint8,
            4 int32, 5 int8, 6 int64, 7 bool, 8 int16, 9 uint16,
            10 uint32, 11 uint64, 12 bfloat16)
    raw data, C order, prod(shape) x itemsize bytes
"""
import os
import struct
from collections import OrderedDict
from typing import BinaryIO, Dict, List, Optional, Tuple

import numpy as np

__all__ = [
    'MXNetParamsError', 'read_ndarray_list', 'load_mxnet_params',
    'NDARRAY_LIST_MAGIC', 'NDARRAY_V1_MAGIC', 'NDARRAY_V2_MAGIC',
    'NDARRAY_V3_MAGIC', 'MXNET_DTYPES'
]

NDARRAY_LIST_MAGIC = 0x112
NDARRAY_V1_MAGIC = 0xF993FAC8
NDARRAY_V2_MAGIC = 0xF993FAC9
NDARRAY_V3_MAGIC = 0xF993FACA

#: mshadow dtype flag -> numpy dtype (little endian). bfloat16 (12) is
#: handled separately and returned as float32.
MXNET_DTYPES: Dict[int, np.dtype] = {
    0: np.dtype('<f4'),
    1: np.dtype('<f8'),
    2: np.dtype('<f2'),
    3: np.dtype('u1'),
    4: np.dtype('<i4'),
    5: np.dtype('i1'),
    6: np.dtype('<i8'),
    7: np.dtype('?'),
    8: np.dtype('<i2'),
    9: np.dtype('<u2'),
    10: np.dtype('<u4'),
    11: np.dtype('<u8'),
}
_BFLOAT16 = 12
# More dims than this in a legacy header means the word was not an ndim.
_MAX_LEGACY_NDIM = 32


class MXNetParamsError(ValueError):
    """Raised when a file is not a readable MXNet NDArray list."""


class _Reader:
    """Little-endian reader that reports the file and offset on errors."""

    def __init__(self, fp: BinaryIO, path: str) -> None:
        self.fp = fp
        self.path = path

    def error(self, msg: str) -> MXNetParamsError:
        return MXNetParamsError(f'{self.path}: {msg}')

    def read(self, size: int, what: str) -> bytes:
        offset = self.fp.tell()
        data = self.fp.read(size)
        if len(data) != size:
            raise self.error(
                f'file is truncated: needed {size} bytes for {what} at '
                f'offset {offset}, got {len(data)}. Re-download the file.')
        return data

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack('<' + fmt, self.read(struct.calcsize(fmt), what))

    def read_array(self, dtype: np.dtype, count: int, what: str) -> np.ndarray:
        out = np.empty(count, dtype=dtype)
        nbytes = out.nbytes
        offset = self.fp.tell()
        got = self.fp.readinto(memoryview(out).cast('B')) if nbytes else 0
        if got != nbytes:
            raise self.error(
                f'file is truncated: needed {nbytes} bytes for {what} at '
                f'offset {offset}, got {got}. Re-download the file.')
        return out


def _read_ndarray(reader: _Reader, index: int) -> Optional[np.ndarray]:
    """Read one NDArray; ``None`` for an empty ("none") array."""
    what = f'array #{index}'
    magic, = reader.unpack('I', f'the magic of {what}')
    if magic in (NDARRAY_V2_MAGIC, NDARRAY_V3_MAGIC):
        stype, = reader.unpack('i', f'the storage type of {what}')
        if stype != 0:
            raise reader.error(
                f'{what} has sparse storage type {stype}; only dense '
                f'arrays (storage type 0) are supported. Convert it to '
                f'dense with MXNet (`arr.tostype("default")`) and re-save.')
    if magic in (NDARRAY_V1_MAGIC, NDARRAY_V2_MAGIC, NDARRAY_V3_MAGIC):
        ndim, = reader.unpack('i', f'the ndim of {what}')
        if magic == NDARRAY_V3_MAGIC and ndim == -1:
            return None
        if ndim < 0 or ndim > _MAX_LEGACY_NDIM:
            raise reader.error(f'{what} has an invalid ndim {ndim}.')
        if magic != NDARRAY_V3_MAGIC and ndim == 0:
            return None
        shape = reader.unpack(f'{ndim}q', f'the shape of {what}')
    else:
        ndim = magic
        if ndim > _MAX_LEGACY_NDIM:
            raise reader.error(
                f'{what} starts with 0x{magic:08X}, which is neither an '
                f'NDArray magic (V1 0x{NDARRAY_V1_MAGIC:08X}, V2 '
                f'0x{NDARRAY_V2_MAGIC:08X}, V3 0x{NDARRAY_V3_MAGIC:08X}) nor '
                f'a legacy ndim. The file is corrupt or not an MXNet '
                f'.params file.')
        if ndim == 0:
            return None
        shape = reader.unpack(f'{ndim}I', f'the shape of {what}')
    if any(d < 0 for d in shape):
        raise reader.error(f'{what} has an unknown dimension: {shape}.')
    reader.unpack('ii', f'the context of {what}')
    type_flag, = reader.unpack('i', f'the dtype flag of {what}')
    count = int(np.prod(shape, dtype=np.int64))
    if type_flag == _BFLOAT16:
        raw = reader.read_array(np.dtype('<u2'), count, f'the data of {what}')
        data = (raw.astype(np.uint32) << 16).view(np.float32)
    elif type_flag in MXNET_DTYPES:
        data = reader.read_array(MXNET_DTYPES[type_flag], count,
                                 f'the data of {what}')
    else:
        raise reader.error(
            f'{what} has unknown dtype flag {type_flag}; known flags: '
            f'{sorted(MXNET_DTYPES) + [_BFLOAT16]}.')
    return data.reshape(shape)


def read_ndarray_list(
        path: str) -> Tuple[List[Optional[np.ndarray]], List[str]]:
    """Read an MXNet NDArray list file (``mx.nd.save`` format).

    Args:
        path (str): Path of the ``.params`` / ``.nd`` file.

    Returns:
        tuple[list[np.ndarray | None], list[str]]: The arrays (native dtype,
        original shape, ``None`` for empty arrays) and their names (empty
        list when the file was saved from a list instead of a dict).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        MXNetParamsError: wrong magic, truncated file, sparse arrays, unknown
            dtype, or a name count that does not match the array count. The
            message names the file.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'MXNet params file not found: {path}')
    with open(path, 'rb') as fp:
        reader = _Reader(fp, path)
        head = fp.read(8)
        if len(head) != 8 or struct.unpack('<Q',
                                           head)[0] != NDARRAY_LIST_MAGIC:
            got = (f'0x{struct.unpack("<Q", head)[0]:X}'
                   if len(head) == 8 else f'{len(head)} bytes')
            raise MXNetParamsError(
                f'{path}: not an MXNet NDArray list file: expected the magic '
                f'0x{NDARRAY_LIST_MAGIC:X} in the first 8 bytes, got {got}. '
                f'Pass the `.params` file written by MXNet (e.g. '
                f'ilsvrc-cls_rna-a1_cls1000_ep-0001.params), or a PyTorch '
                f'`.pth` checkpoint.')
        reader.unpack('Q', 'the reserved word')
        num_arrays, = reader.unpack('Q', 'the array count')
        arrays = [_read_ndarray(reader, i) for i in range(num_arrays)]
        num_names, = reader.unpack('Q', 'the name count')
        if num_names not in (0, num_arrays):
            raise reader.error(
                f'the file holds {num_arrays} arrays but {num_names} names '
                f'(must be 0 or equal); the file is corrupt.')
        names = []
        for i in range(num_names):
            length, = reader.unpack('Q', f'the length of name #{i}')
            raw = reader.read(length, f'name #{i}')
            try:
                names.append(raw.decode('utf-8'))
            except UnicodeDecodeError as err:
                raise reader.error(
                    f'name #{i} is not valid UTF-8 ({err}).') from None
        trailing = fp.read(1)
        if trailing:
            raise reader.error(
                f'unexpected data after the name list at offset '
                f'{fp.tell() - 1}; the file is corrupt.')
    return arrays, names


def load_mxnet_params(path: str) -> 'OrderedDict[str, np.ndarray]':
    """Load a named MXNet ``.params`` file into an ordered dict.

    Args:
        path (str): Path of the ``.params`` file.

    Returns:
        OrderedDict[str, np.ndarray]: ``name -> array`` in file order, names
        as stored (e.g. ``'arg:conv1a_weight'``, ``'aux:bn7_moving_var'``).
        Empty arrays are skipped.

    Raises:
        MXNetParamsError: the file is unreadable (see
            :func:`read_ndarray_list`), holds no names, or repeats a name.
    """
    arrays, names = read_ndarray_list(path)
    if arrays and not names:
        raise MXNetParamsError(
            f'{path}: the file holds {len(arrays)} unnamed arrays (saved '
            f'from a list); a parameter file needs names such as '
            f'"arg:conv1a_weight".')
    out: 'OrderedDict[str, np.ndarray]' = OrderedDict()
    for name, array in zip(names, arrays):
        if name in out:
            raise MXNetParamsError(
                f'{path}: the name "{name}" occurs twice; the file is '
                f'corrupt.')
        if array is not None:
            out[name] = array
    return out
