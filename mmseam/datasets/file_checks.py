# Copyright (c) mmseam contributors. All rights reserved.
"""Split lists, label files, class lists and cheap image checks.

Shared by the datasets (:class:`~mmseam.datasets.VOCClsDataset`,
:class:`~mmseam.datasets.ImageFolderClsDataset`) and the tools that read a
split list (:func:`mmseam.apis.read_split_ids`).
"""
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence

__all__ = [
    'DatasetError', 'BadImageError', 'IMAGE_SUFFIXES', 'read_split_ids',
    'read_label_file', 'resolve_palette', 'image_file_problem'
]

#: Suffixes taken as an image file name (stripped from split-list tokens).
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')

# How many bytes at the end of a file are read for the end-marker check.
_TAIL_BYTES = 16
_JPEG_EOI = b'\xff\xd9'
_PNG_IEND = b'IEND\xaeB`\x82'


class DatasetError(ValueError):
    """A dataset on disk is missing, incomplete or malformed.

    Raised while a dataset loads its annotation list, i.e. before any
    training starts. The message names the offending file and says how to
    fix it.
    """


class BadImageError(RuntimeError):
    """An image of the dataset cannot be decoded when it is loaded.

    Raised by the dataset's ``__getitem__`` (``on_bad_image='raise'``) in
    place of the loader's own error; the message names the file and the
    fix.
    """


def _split_tokens(line: str) -> List[str]:
    """Tokens of a split / label-file line: whitespace or comma separated."""
    return [t for t in re.split(r'[\s,;]+', line.strip()) if t]


def _token_to_id(token: str, img_suffix: Optional[str] = None) -> str:
    """Image id of a split-list token (an id, a file name or a path)."""
    suffixes = IMAGE_SUFFIXES + ((img_suffix.lower(), ) if img_suffix else ())
    name = osp.basename(token) if '/' in token else token
    stem, ext = osp.splitext(name)
    if stem and ext.lower() in suffixes:
        return stem
    if '/' in token and stem:  # '/JPEGImages/<id>.<any ext>'
        return stem
    return name


def _content_lines(path: str):
    """Yield ``(line_number, tokens)`` of non-empty, non-comment lines."""
    with open(path) as f:
        for num, line in enumerate(f, 1):
            line = line.split('#', 1)[0]
            tokens = _split_tokens(line)
            if tokens:
                yield num, tokens


def read_split_ids(split_file: str,
                   img_suffix: Optional[str] = None) -> List[str]:
    """Read the image ids of a split list (or of a label file).

    A line is an id (VOC ``ImageSets``), ``<img path> [<label path>]`` (PSA
    format: the id is the image file name without its suffix) or ``<id>
    <class> ...`` (a label file of :func:`read_label_file`): the id is the
    first token. Tokens are separated by whitespace or commas; empty lines
    and ``#`` comments are skipped. A first token that ends with an image
    suffix (``.jpg``, ``.png``, ... or ``img_suffix``) or holds a ``/``
    loses its folder and suffix.

    Args:
        split_file (str): Path of the split list.
        img_suffix (str, optional): The dataset's image suffix, also
            stripped. Defaults to None.

    Returns:
        list[str]: Image ids in file order.

    Raises:
        FileNotFoundError: The file does not exist.
        DatasetError: The file lists no id (a ``ValueError``).
    """
    if not osp.isfile(split_file):
        raise FileNotFoundError(f'split file {split_file} does not exist.')
    ids = [
        _token_to_id(tokens[0], img_suffix)
        for _, tokens in _content_lines(split_file)
    ]
    if not ids:
        raise DatasetError(f'split file {split_file} lists no image ids; '
                           'list one image id per line.')
    return ids


def read_label_file(label_file: str,
                    classes: Sequence[str],
                    img_suffix: Optional[str] = None
                    ) -> Dict[str, List[int]]:
    """Read image-level labels: ``<id> <class> [<class> ...]`` per line.

    Tokens are separated by whitespace or commas (so a CSV without a header
    works too); ``#`` starts a comment. Class names must be foreground
    classes of ``classes`` (``classes[0]`` is the background); an id may
    also be given as a file name (``img_001.jpg``).

    Example::

        # id        classes
        street_001  car person
        street_002  tree
        street_003, car, tree

    Args:
        label_file (str): Path of the label file.
        classes (Sequence[str]): The dataset's class list, background first.
        img_suffix (str, optional): Image suffix stripped from ids.

    Returns:
        dict[str, list[int]]: Image id -> class indices into ``classes``
        (all >= 1), in file order.

    Raises:
        DatasetError: Missing file, a line without a class, an unknown class
            name or a repeated id; the message names the file, the line and
            the fix.
    """
    if not osp.isfile(label_file):
        raise DatasetError(
            f'label file {label_file!r} does not exist; set `label_file` in '
            'the dataset config (relative paths are taken under data_root) '
            'to a text file with one `<image id> <class> [<class> ...]` '
            'line per image.')
    fg = list(classes[1:])
    table: Dict[str, List[int]] = {}
    for num, tokens in _content_lines(label_file):
        img_id = _token_to_id(tokens[0], img_suffix)
        where = f'label file {label_file}, line {num}'
        if len(tokens) < 2:
            raise DatasetError(
                f'{where}: image {img_id!r} has no class; list at least one '
                f'of {fg} after the id, or remove the line.')
        unknown = [t for t in tokens[1:] if t not in fg]
        if unknown:
            raise DatasetError(
                f'{where}: {unknown} not in the foreground classes {fg}; fix '
                'the line or the class list (metainfo.classes of the dataset '
                'config, background first).')
        if img_id in table:
            raise DatasetError(
                f'{where}: image {img_id!r} is listed twice; put all its '
                'classes on one line.')
        table[img_id] = sorted({fg.index(t) + 1 for t in tokens[1:]})
    if not table:
        raise DatasetError(f'label file {label_file} lists no image; write '
                           'one `<image id> <class> ...` line per image.')
    return table


def resolve_palette(classes: Sequence[str],
                    palette: Optional[Sequence[Sequence[int]]],
                    source: str = 'the dataset config') -> List[List[int]]:
    """Check a palette against its class list, or make one.

    Args:
        classes (Sequence[str]): Class names, background first.
        palette (Sequence[Sequence[int]], optional): One RGB triplet per
            class, or None for the PASCAL VOC colour map (extended past 21
            entries, up to 256 classes).
        source (str): Where the metainfo comes from (a config file name),
            for the error message.

    Returns:
        list[list[int]]: ``len(classes)`` RGB triplets.

    Raises:
        DatasetError: The palette's length differs from the class list's.
    """
    if palette is None:
        from mmseam.apis.cam_io import voc_colormap
        return voc_colormap(len(classes))
    palette = [list(map(int, c)) for c in palette]
    if len(palette) != len(classes):
        raise DatasetError(
            f'metainfo.palette has {len(palette)} colours but '
            f'metainfo.classes has {len(classes)} classes (in {source}). '
            'Give one [r, g, b] per class, background first, or leave the '
            'palette out to get the VOC colour map: in a child config that '
            'changes the classes of its base, write `metainfo=dict('
            '_delete_=True, classes=(...))` (or `palette=None`), otherwise '
            "the base's palette is kept.")
    return palette


def image_file_problem(img_path: str) -> Optional[str]:
    """Cheap check of an image file: size, header and end marker.

    Reads the header with PIL (format and size, no decoding) and the last
    bytes of the file: a JPEG must end with the EOI marker ``FF D9`` and a
    PNG with its ``IEND`` chunk. A file with data after its end marker
    (e.g. a motion photo) is fully decoded instead, so it is only reported
    when it is really broken.

    Args:
        img_path (str): Local path of the image.

    Returns:
        str | None: A problem description naming the file, or None.
    """
    from PIL import Image
    fix = 're-export or re-download it, or remove its id from the split list'
    try:
        with Image.open(img_path) as img:
            fmt = img.format
            img.size  # noqa: B018 - the header holds the size
    except Exception as err:  # noqa: BLE001 - any reader error is a problem
        return (f'image {img_path} is not a readable image ({err}); {fix}.')
    end = {'JPEG': _JPEG_EOI, 'PNG': _PNG_IEND}.get(fmt)
    if end is None:
        return None
    with open(img_path, 'rb') as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - _TAIL_BYTES))
        tail = f.read()
    if tail.rstrip(b'\x00\r\n ').endswith(end):
        return None
    try:  # data after the end marker, or a truncated file: decode it
        with Image.open(img_path) as img:
            img.load()
    except Exception as err:  # noqa: BLE001
        return (f'image {img_path} is truncated or corrupt ({fmt} without '
                f'its end marker; {err}); {fix}.')
    return None
