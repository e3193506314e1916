# Copyright (c) mmseam contributors. All rights reserved.
"""Pascal VOC 2012 with image-level (multi-hot) class labels."""
import logging
import os
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Sequence, Set, Tuple

import mmengine.fileio as fileio
import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset, PascalVOCDataset
from mmseg.registry import DATASETS

from .file_checks import (BadImageError, DatasetError, image_file_problem,
                          read_label_file, read_split_ids, resolve_palette)

__all__ = ['BadImageError', 'DatasetError', 'VOCClsDataset']

_LABEL_SOURCES = ('xml', 'npy', 'mask', 'file')
_BAD_IMAGE_POLICIES = ('raise', 'skip')
# At most this many problems are spelled out in one error message.
_MAX_LISTED_PROBLEMS = 10


@DATASETS.register_module()
class VOCClsDataset(BaseSegDataset):
    """Pascal VOC 2012 layout with image-level labels for WSSS.

    Expected layout under ``data_root`` (the VOC 2012 layout)::

        JPEGImages/<id>.jpg
        Annotations/<id>.xml                 (label_source='xml')
        SegmentationClass/<id>.png           (fine masks, VOC train/val)
        SegmentationClassAug/<id>.png        (SBD-augmented masks)
        ImageSets/Segmentation/{train,val,train_aug}.txt

    Every data info holds ``img_path``, ``img_id``, ``img_labels`` (a
    ``np.float32`` multi-hot array of shape ``(num_fg,)`` over
    ``classes[1:]``; index 0 of ``classes`` is the background),
    ``seg_map_path`` (only when ``with_seg_map=True``), ``label_map``,
    ``reduce_zero_label`` and ``seg_fields``.

    Image-level labels come from one of three sources:

    - ``'xml'`` (default): the ``<object><name>`` entries of
      ``<xml_dir>/<id>.xml``. Difficult objects are included, as in the
      official ``cls_labels.npy`` (PSA ``make_cls_labels.py``), unless
      ``ignore_difficult=True``.
    - ``'npy'``: an official ``cls_labels.npy``-style file: a pickled dict
      ``{img_id: multi-hot over the foreground classes}``. Keys may be
      strings (``'2007_000032'``, PSA/SEAM) or integers
      (``2007000032``, IRN).
    - ``'mask'``: the unique values of the segmentation mask, minus 0
      (background) and 255 (ignore).
    - ``'file'``: a text label file ``label_file`` with one ``<id> <class>
      [<class> ...]`` line per image (class names; whitespace or commas
      between tokens, see :func:`~mmseam.datasets.read_label_file`).

    The class list is ``METAINFO['classes']`` (VOC: background + 20) unless
    ``metainfo=dict(classes=..., palette=...)`` is passed. A class list that
    is *not* a subset of the VOC classes replaces it (mask values and label
    files are then read as indices into the new list); a subset of the VOC
    classes keeps MMSegmentation's meaning (mask values are remapped with
    ``label_map`` and the dropped classes are removed from the labels).
    Without a palette (or with ``palette=None``) a new class list gets the
    VOC colour map (extended past 21 classes); a palette whose length
    differs from the class list's raises :class:`DatasetError` naming both.

    Every problem found on disk raises :class:`DatasetError` while the
    dataset is built, naming the file and the fix. Each image's header and
    end marker are read then (a truncated JPEG/PNG is found before
    training, see :func:`~mmseam.datasets.image_file_problem`); an image
    that still fails to decode when the pipeline loads it stops the run
    with :class:`BadImageError` naming the file (``on_bad_image='raise'``)
    or, in training, is skipped and logged (``on_bad_image='skip'``; the
    skipped paths are in :attr:`skipped_images` of the process that loaded
    them).

    Args:
        ann_file (str): Split list, one image id per line (relative to
            ``data_root``). Lines in the PSA format
            ``/JPEGImages/<id>.jpg /SegmentationClassAug/<id>.png`` are
            accepted too.
        data_root (str, optional): Dataset root. Defaults to None.
        data_prefix (dict): ``img_path`` and ``seg_map_path`` folders
            relative to ``data_root``. Defaults to
            ``dict(img_path='JPEGImages', seg_map_path='SegmentationClass')``.
        label_source (str): ``'xml'``, ``'npy'``, ``'mask'`` or ``'file'``.
            Defaults to ``'xml'``.
        xml_dir (str): Folder of the VOC XML files, relative to
            ``data_root``. Defaults to ``'Annotations'``.
        cls_label_file (str, optional): ``cls_labels.npy`` file for
            ``label_source='npy'``. A relative path is looked up under
            ``data_root`` first, then in the working directory.
        label_file (str, optional): Label file of ``label_source='file'``,
            relative to ``data_root`` unless absolute.
        mask_dir (str, optional): Folder of the masks read by
            ``label_source='mask'``, relative to ``data_root``. Defaults to
            ``data_prefix['seg_map_path']``.
        ignore_difficult (bool): Skip objects marked ``<difficult>1``.
            Defaults to False (official behaviour).
        with_seg_map (bool): Whether each data info carries a
            ``seg_map_path`` (needed by ``LoadAnnotations``). Use False for
            splits without fine masks, e.g. ``train_aug``. Defaults to True.
        check_images (bool): Fully decode every image while loading to catch
            corrupt files (slow on 10k images). Existence and a non-zero size
            are always checked. Defaults to False.
        check_image_headers (bool): Read every image's header and last
            bytes while loading (cheap: catches non-images and truncated
            JPEG/PNG files). Local files only. Defaults to True.
        on_bad_image (str): What a pipeline that fails to decode an image
            does: ``'raise'`` stops with :class:`BadImageError` naming the
            file; ``'skip'`` (training only) logs the file and loads
            another sample. Defaults to ``'raise'``.
        check_masks (bool): Decode every ``seg_map_path`` mask while
            loading and check it: a single-channel PNG whose values are
            class indices of this dataset or 255 (ignore), of the image's
            size. Use it for folders not made by the VOC devkit, e.g. pseudo
            labels. Defaults to False.
        pseudo_labels (bool): ``data_prefix['seg_map_path']`` is a folder of
            pseudo labels written by mmseam (stage 2): missing labels are
            reported as one error that names the folder and says to run the
            pseudo-label inference on the split. Defaults to False.
        img_suffix (str): Image suffix. Defaults to ``'.jpg'``.
        seg_map_suffix (str): Mask suffix. Defaults to ``'.png'``.
        **kwargs: Other arguments of :class:`mmseg.datasets.BaseSegDataset`
            (``metainfo``, ``pipeline``, ``test_mode``, ``indices``, ...).
    """
    METAINFO = dict(
        classes=PascalVOCDataset.METAINFO['classes'],
        palette=PascalVOCDataset.METAINFO['palette'])
    # whether a dataset without ``ann_file`` lists its own ids (subclasses)
    _split_optional = False

    def __init__(self,
                 ann_file: str = '',
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(
                     img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 label_source: str = 'xml',
                 xml_dir: str = 'Annotations',
                 cls_label_file: Optional[str] = None,
                 label_file: Optional[str] = None,
                 mask_dir: Optional[str] = None,
                 ignore_difficult: bool = False,
                 with_seg_map: bool = True,
                 check_images: bool = False,
                 check_image_headers: bool = True,
                 on_bad_image: str = 'raise',
                 check_masks: bool = False,
                 pseudo_labels: bool = False,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        if label_source not in _LABEL_SOURCES:
            raise DatasetError(
                f'label_source={label_source!r} is not supported; use one '
                f'of {_LABEL_SOURCES}.')
        if label_source == 'npy' and not cls_label_file:
            raise DatasetError(
                "label_source='npy' needs cls_label_file (the path of a "
                'cls_labels.npy dict {img_id: multi-hot}); set it in the '
                "dataset config or use label_source='xml'.")
        if label_source == 'file' and not label_file:
            raise DatasetError(
                "label_source='file' needs label_file (a text file with one "
                '`<image id> <class> [<class> ...]` line per image); set it '
                'in the dataset config.')
        if on_bad_image not in _BAD_IMAGE_POLICIES:
            raise DatasetError(
                f'on_bad_image={on_bad_image!r} is not supported; use one of '
                f'{_BAD_IMAGE_POLICIES}.')
        self.label_source = label_source
        self.xml_dir = xml_dir
        self.cls_label_file = cls_label_file
        self.label_file = label_file
        self.mask_dir = mask_dir
        self.ignore_difficult = ignore_difficult
        self.with_seg_map = with_seg_map
        self.check_images = check_images
        self.check_image_headers = check_image_headers
        self.on_bad_image = on_bad_image
        self.skipped_images: List[str] = []
        self.check_masks = check_masks
        self.pseudo_labels = pseudo_labels
        if kwargs.get('metainfo') is not None:
            kwargs['metainfo'] = self._complete_metainfo(kwargs['metainfo'])
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    @classmethod
    def get_label_map(cls,
                      new_classes: Optional[Sequence] = None
                      ) -> Optional[Dict[int, int]]:
        """Label map from ``METAINFO`` classes to ``new_classes``.

        A class list that is not a subset of ``METAINFO['classes']`` (e.g.
        the synthetic dataset's) replaces the default list, so no mapping is
        needed and None is returned. A subset keeps MMSegmentation's
        remapping behaviour.

        Args:
            new_classes (Sequence[str], optional): Classes from ``metainfo``.

        Returns:
            dict[int, int] | None: Old label id -> new label id, or None.
        """
        old_classes = cls.METAINFO.get('classes', None)
        if (new_classes is not None and old_classes is not None
                and not set(new_classes).issubset(old_classes)):
            return None
        return super().get_label_map(new_classes)

    @classmethod
    def _complete_metainfo(cls, metainfo: dict) -> dict:
        """Give a new class list a palette; check a given palette.

        A class list that is a subset of ``METAINFO['classes']`` without a
        palette keeps MMSegmentation's behaviour (the subset of the default
        palette).

        Args:
            metainfo (dict): ``metainfo`` of the dataset config.

        Returns:
            dict: A copy with a ``palette`` of one colour per class where
            one was needed.

        Raises:
            DatasetError: A palette whose length differs from the classes'.
        """
        metainfo = dict(metainfo)
        classes = metainfo.get('classes')
        if classes is None:
            return metainfo
        subset = set(classes).issubset(cls.METAINFO.get('classes', ()))
        palette = metainfo.get('palette')
        if palette is None:
            if subset:
                metainfo.pop('palette', None)
            else:
                metainfo['palette'] = resolve_palette(classes, None)
        elif not (subset and len(palette) == len(cls.METAINFO['classes'])):
            metainfo['palette'] = resolve_palette(classes, palette)
        return metainfo

    # ------------------------------------------------------------------
    # path helpers
    # ------------------------------------------------------------------
    def _under_root(self, path: Optional[str]) -> Optional[str]:
        """Join a relative path with ``data_root`` (if any)."""
        if path is None:
            return None
        if osp.isabs(path) or not self.data_root:
            return path
        return osp.join(self.data_root, path)

    @property
    def _source_classes(self) -> Tuple[str, ...]:
        """Class list that raw labels (XML names, npy, masks) refer to."""
        if self.label_map is not None:
            return tuple(self.METAINFO['classes'])
        return tuple(self._metainfo['classes'])

    def _exists(self, path: str) -> bool:
        if self.backend_args is None:
            return osp.isfile(path)
        return fileio.exists(path, backend_args=self.backend_args)

    # ------------------------------------------------------------------
    # checks
    # ------------------------------------------------------------------
    def _check_roots(self) -> None:
        """Fail early when the dataset root or the split list is missing."""
        if self.backend_args is not None:
            return
        if self.data_root and not osp.isdir(self.data_root):
            raise DatasetError(
                f'Dataset root {self.data_root!r} does not exist. Set '
                '`data_root` in the dataset config to your copy of the data: '
                'for Pascal VOC 2012 download VOCdevkit (plus SBD for '
                'SegmentationClassAug/train_aug) and point data_root at '
                'VOCdevkit/VOC2012; for the synthetic set run '
                '`python tools/dataset_converters/make_synthetic_voc.py '
                f'--out {self.data_root}`.')
        img_dir = self.data_prefix.get('img_path', '')
        if not img_dir or not osp.isdir(img_dir):
            raise DatasetError(
                f'Image folder {img_dir!r} does not exist. Check '
                '`data_root` and `data_prefix.img_path` in the dataset '
                'config (VOC layout: <data_root>/JPEGImages; folder layout: '
                '<data_root>/images).')
        if not self.ann_file and self._split_optional:
            return
        if not self.ann_file:
            raise DatasetError(
                'No split list given: set `ann_file` in the dataset config, '
                'e.g. ann_file="ImageSets/Segmentation/train_aug.txt".')
        if not osp.isfile(self.ann_file):
            hint = ''
            if 'train_aug' in osp.basename(self.ann_file):
                hint = (' train_aug.txt (10,582 ids) is not part of VOC '
                        '2012: take it from the SEAM/PSA repositories '
                        '(voc12/train_aug.txt) or build it from SBD; '
                        "MMSegmentation's voc_aug.py converter writes "
                        'trainaug.txt.')
            raise DatasetError(
                f'Split list {self.ann_file!r} does not exist. Check '
                '`data_root` and `ann_file` in the dataset config.' + hint)

    def _check_image(self, img_path: str, img_id: str) -> Optional[str]:
        """Return a problem description for ``img_path`` or None."""
        if self.backend_args is not None:
            if not fileio.exists(img_path, backend_args=self.backend_args):
                return (f'image {img_path} (id {img_id!r} in '
                        f'{self.ann_file}) does not exist; add the image or '
                        'remove the id from the split list.')
            return None
        if not osp.isfile(img_path):
            return (f'image {img_path} (id {img_id!r} in {self.ann_file}) '
                    'does not exist; add the image or remove the id from '
                    'the split list.')
        if osp.getsize(img_path) == 0:
            return (f'image {img_path} is empty (0 bytes); re-download or '
                    're-generate it, or remove its id from the split list.')
        if not os.access(img_path, os.R_OK):
            return (f'image {img_path} is not readable (permissions); fix '
                    'its permissions or remove its id from the split list.')
        if self.check_image_headers and not self.check_images:
            return image_file_problem(img_path)
        if self.check_images:
            from PIL import Image
            try:
                with Image.open(img_path) as img:
                    img.load()
            except Exception as err:  # noqa: BLE001 - report any decode bug
                return (f'image {img_path} cannot be decoded ({err}); '
                        're-download or re-generate it, or remove its id '
                        'from the split list.')
        return None

    # ------------------------------------------------------------------
    # label readers: each returns raw class indices into _source_classes
    # ------------------------------------------------------------------
    def _labels_from_xml(self, img_id: str) -> Set[int]:
        xml_path = osp.join(self._under_root(self.xml_dir), img_id + '.xml')
        if not self._exists(xml_path):
            raise DatasetError(
                f'annotation {xml_path} (image {img_id!r}) does not exist; '
                'add the VOC XML file, remove the id from the split list, or '
                "use label_source='npy'/'mask'.")
        try:
            if self.backend_args is None:
                root = ET.parse(xml_path).getroot()
            else:
                root = ET.fromstring(
                    fileio.get_text(xml_path, backend_args=self.backend_args))
        except ET.ParseError as err:
            raise DatasetError(
                f'annotation {xml_path} is not valid XML ({err}); fix or '
                're-download the file.') from err
        classes = self._source_classes
        labels = set()
        for obj in root.findall('object'):
            name_el = obj.find('name')
            if name_el is None or not (name_el.text or '').strip():
                raise DatasetError(
                    f'annotation {xml_path} has an <object> without a '
                    '<name>; fix the file.')
            name = name_el.text.strip()
            difficult = obj.find('difficult')
            if (self.ignore_difficult and difficult is not None
                    and (difficult.text or '0').strip() == '1'):
                continue
            if name not in classes[1:]:
                raise DatasetError(
                    f'annotation {xml_path} names the object {name!r}, '
                    f'which is not a foreground class of this dataset '
                    f'{list(classes[1:])}; fix the annotation or set the '
                    'class list with metainfo=dict(classes=..., '
                    'palette=...).')
            labels.add(classes.index(name))
        return labels

    def _load_npy_labels(self) -> dict:
        path = self.cls_label_file
        if not osp.isabs(path) and self.data_root and osp.isfile(
                osp.join(self.data_root, path)):
            path = osp.join(self.data_root, path)
        if not osp.isfile(path):
            raise DatasetError(
                f'cls_label_file {self.cls_label_file!r} does not exist '
                f'(looked under data_root {self.data_root!r} and the working '
                'directory); set the correct path or use '
                "label_source='xml'.")
        try:
            table = np.load(path, allow_pickle=True)
            if isinstance(table, np.ndarray) and table.dtype == object:
                table = table.item()
        except Exception as err:  # noqa: BLE001
            raise DatasetError(
                f'cls_label_file {path} cannot be read ({err}); it must be a '
                'pickled dict {img_id: multi-hot}, as written by '
                'np.save(path, dict).') from err
        if not isinstance(table, dict):
            raise DatasetError(
                f'cls_label_file {path} holds a {type(table).__name__}, not '
                'a dict {img_id: multi-hot}; re-create it with '
                'np.save(path, dict).')
        self._npy_path = path
        return table

    def _labels_from_npy(self, img_id: str, table: dict) -> Set[int]:
        key = img_id
        if key not in table:
            digits = img_id.replace('_', '')
            key = int(digits) if digits.isdigit() else None
            if key not in table:
                raise DatasetError(
                    f'image {img_id!r} has no entry in cls_label_file '
                    f'{self._npy_path}; add it or remove the id from the '
                    'split list.')
        vec = np.asarray(table[key]).reshape(-1)
        num_fg = len(self._source_classes) - 1
        if vec.shape[0] != num_fg:
            raise DatasetError(
                f'cls_label_file {self._npy_path}: the label of {img_id!r} '
                f'has {vec.shape[0]} entries but the class list has {num_fg} '
                'foreground classes; use a matching class list (metainfo) '
                'or label file.')
        return set((np.flatnonzero(vec > 0) + 1).tolist())

    def _load_file_labels(self) -> dict:
        """Read ``label_file`` (see :func:`read_label_file`)."""
        path = self._under_root(self.label_file)
        self._label_file_path = path
        return read_label_file(path, self._source_classes, self.img_suffix)

    def _labels_from_file(self, img_id: str, table: dict) -> Set[int]:
        if img_id not in table:
            raise DatasetError(
                f'image {img_id!r} has no line in the label file '
                f'{self._label_file_path}; add `{img_id} <class> ...` or '
                'remove the id from the split list.')
        return set(table[img_id])

    def _labels_from_mask(self, img_id: str) -> Set[int]:
        mask_dir = self._under_root(self.mask_dir) if self.mask_dir \
            else self.data_prefix.get('seg_map_path', '')
        mask_path = osp.join(mask_dir, img_id + self.seg_map_suffix)
        if not self._exists(mask_path):
            raise DatasetError(
                f'mask {mask_path} (image {img_id!r}) does not exist; add it, '
                "remove the id from the split list, or use label_source="
                "'xml'.")
        mask = self._read_mask(mask_path)
        values = set(np.unique(mask).tolist()) - {0, 255}
        return values

    def _read_mask(self, mask_path: str) -> np.ndarray:
        """Decode a label mask and check its values (DatasetError if bad).

        Args:
            mask_path (str): Path of a single-channel PNG.

        Returns:
            np.ndarray: The (H, W) mask.
        """
        from PIL import Image
        try:
            if self.backend_args is None:
                with Image.open(mask_path) as im:
                    mask = np.asarray(im)
            else:
                import io
                mask = np.asarray(
                    Image.open(
                        io.BytesIO(
                            fileio.get(
                                mask_path, backend_args=self.backend_args))))
        except Exception as err:  # noqa: BLE001
            raise DatasetError(
                f'mask {mask_path} cannot be decoded ({err}); re-create '
                'it.') from err
        if mask.ndim != 2:
            raise DatasetError(
                f'mask {mask_path} has shape {mask.shape}; expected a '
                'single-channel (palette or grey) PNG of class indices.')
        num = len(self._source_classes)
        if mask.dtype == np.uint8:  # bincount is ~10x faster than unique
            values = np.flatnonzero(np.bincount(mask.ravel(), minlength=256))
        else:
            values = np.unique(mask)
        bad = sorted(int(v) for v in values if num <= v < 255 or v > 255)
        if bad:
            raise DatasetError(
                f'mask {mask_path} contains the values {bad}, outside the '
                f'{num} classes of this dataset (0..{num - 1}, 255 = '
                'ignore); fix the mask or the class list (metainfo).')
        return mask

    def _check_seg_map(self, seg_path: str,
                       img_path: str) -> Tuple[Optional[str], Optional[
                           np.ndarray]]:
        """Decode ``seg_path`` and compare it with the image (check_masks).

        Returns:
            tuple: A problem description (or None) and the decoded (H, W)
            mask (or None when it could not be read).
        """
        try:
            mask = self._read_mask(seg_path)
        except DatasetError as err:
            return str(err), None
        if self.backend_args is None:
            from PIL import Image
            try:
                with Image.open(img_path) as im:  # header only
                    size = im.size[::-1]
            except Exception:  # noqa: BLE001 - reported by _check_image
                return None, mask
            if tuple(mask.shape) != tuple(size):
                return (f'mask {seg_path} has size {mask.shape} but image '
                        f'{img_path} has size {size}; labels must be saved '
                        'at the original image size.'), mask
        return None, mask

    def _to_multi_hot(self, raw: Set[int]) -> np.ndarray:
        """Map raw class indices to the multi-hot over ``classes[1:]``."""
        num_fg = len(self._metainfo['classes']) - 1
        multi_hot = np.zeros((num_fg, ), dtype=np.float32)
        for idx in raw:
            if self.label_map is not None:
                idx = self.label_map.get(idx, 255)
            if 0 < idx <= num_fg:
                multi_hot[idx - 1] = 1.0
        return multi_hot

    # ------------------------------------------------------------------
    # scanning the split
    # ------------------------------------------------------------------
    def _read_split(self) -> List[str]:
        """Image ids of ``ann_file`` (see :func:`read_split_ids`)."""
        try:
            return read_split_ids(self.ann_file, self.img_suffix)
        except FileNotFoundError as err:
            raise DatasetError(
                f'Split list {self.ann_file!r} does not exist. Check '
                '`data_root` and `ann_file` in the dataset config.') from err

    def _label_table(self) -> Optional[dict]:
        """The label table of ``label_source`` 'npy' / 'file', else None."""
        if self.label_source == 'npy':
            return self._load_npy_labels()
        if self.label_source == 'file':
            return self._load_file_labels()
        return None

    def _raw_labels(self, img_id: str, table: Optional[dict]) -> Set[int]:
        """Raw class indices of one image from ``label_source``."""
        if self.label_source == 'xml':
            return self._labels_from_xml(img_id)
        if self.label_source == 'npy':
            return self._labels_from_npy(img_id, table)
        if self.label_source == 'file':
            return self._labels_from_file(img_id, table)
        return self._labels_from_mask(img_id)

    def _count_mask(self, mask: np.ndarray, state: dict) -> None:
        """Add a checked mask's class pixels to the scan statistics."""
        if self.label_map is not None:  # as LoadAnnotations
            lut = np.arange(256, dtype=np.int64)
            for old_id, new_id in self.label_map.items():
                lut[old_id] = new_id
            mask = lut[mask]
        num_classes = len(state['class_images'])
        counts = np.bincount(
            mask.ravel().astype(np.int64), minlength=256)[:num_classes]
        state['class_pixels'] += counts
        state['class_images'][0] += int(counts[0] > 0)

    def _seg_map_entry(self, img_id: str, img_path: str,
                       state: dict) -> Tuple[Optional[str], Optional[str]]:
        """Check the mask of one image (``with_seg_map``).

        Returns:
            tuple: The mask path (None when the image is dropped) and a
            problem description (or None).
        """
        seg_path = osp.join(state['seg_dir'], img_id + self.seg_map_suffix)
        if not self._exists(seg_path):
            if self.pseudo_labels:
                state['missing_pseudo'].append(img_id)
                return None, None
            return None, (f'mask {seg_path} (image {img_id!r}) does not '
                          'exist; add it, remove the id from the split '
                          'list, or set with_seg_map=False for a split '
                          'without masks.')
        if state['check_masks']:
            problem, mask = self._check_seg_map(seg_path, img_path)
            if problem is not None:
                return None, problem
            self._count_mask(mask, state)
        return seg_path, None

    def _multi_hot_entry(self, img_id: str, img_path: str,
                         state: dict) -> Tuple[Optional[np.ndarray],
                                               Optional[str]]:
        """Image-level labels of one image as a multi-hot array.

        Returns:
            tuple: The (num_fg,) float32 multi-hot (None on a problem) and a
            problem description (or None).
        """
        try:
            raw = self._raw_labels(img_id, state['table'])
        except DatasetError as err:
            return None, str(err)
        multi_hot = self._to_multi_hot(raw)
        if multi_hot.any():
            return multi_hot, None
        hint = ''
        if raw and self.label_map is not None:
            hint = (' (its classes were all dropped by the class list given '
                    'in metainfo)')
        return None, (f'image {img_path} (id {img_id!r}) has no foreground '
                      f'label (label_source={self.label_source!r}){hint}; '
                      f'remove it from the split list {self.ann_file} or '
                      'fix its annotation.')

    def _scan_image(self, img_id: str, state: dict) -> Optional[dict]:
        """Check one image id; return its data info or record a problem."""
        img_path = osp.join(state['img_dir'], img_id + self.img_suffix)
        problem = self._check_image(img_path, img_id)
        if problem is not None:
            state['problems'].append(problem)
            return None
        data_info = dict(img_path=img_path, img_id=img_id)
        if self.with_seg_map:
            seg_path, problem = self._seg_map_entry(img_id, img_path, state)
            if seg_path is None:
                if problem is not None:
                    state['problems'].append(problem)
                return None
            data_info['seg_map_path'] = seg_path
        multi_hot, problem = self._multi_hot_entry(img_id, img_path, state)
        if multi_hot is None:
            state['problems'].append(problem)
            return None
        state['class_images'][1:] += (multi_hot > 0).astype(np.int64)
        data_info['img_labels'] = multi_hot
        data_info['label_map'] = self.label_map
        data_info['reduce_zero_label'] = self.reduce_zero_label
        data_info['seg_fields'] = []
        return data_info

    def scan(self,
             check_images: Optional[bool] = None,
             check_masks: Optional[bool] = None) -> dict:
        """Check the whole split and collect every problem (no raising).

        :meth:`load_data_list` raises on the problems; ``tools/
        check_dataset.py`` prints them with the statistics.

        Args:
            check_images (bool, optional): Decode every image; defaults to
                the ``check_images`` argument.
            check_masks (bool, optional): Decode and check every
                ``seg_map_path`` mask; defaults to ``check_masks``.

        Returns:
            dict: ``data_list`` (the valid data infos), ``problems`` (list of
            str, each naming a file and the fix), ``num_listed`` (ids in the
            split list), ``class_images`` (int64 (num_classes,), images
            labelled with each class; index 0 counts images with background
            pixels when masks were read, else 0) and ``class_pixels``
            (int64 (num_classes,), mask pixels per class, or None when no
            mask was decoded).

        Raises:
            DatasetError: On a missing root / split list (nothing can be
                checked then).
        """
        self._check_roots()
        check_images = self.check_images if check_images is None \
            else check_images
        check_masks = (self.check_masks if check_masks is None else
                       check_masks) and self.with_seg_map
        ids = self._read_split()
        num_classes = len(self._metainfo['classes'])
        state = dict(
            img_dir=self.data_prefix.get('img_path', ''),
            seg_dir=self.data_prefix.get('seg_map_path', ''),
            table=self._label_table(),
            check_masks=check_masks,
            class_images=np.zeros(num_classes, dtype=np.int64),
            class_pixels=np.zeros(num_classes, dtype=np.int64)
            if check_masks else None,
            problems=[],
            missing_pseudo=[])
        data_list = []
        old_check, self.check_images = self.check_images, check_images
        try:
            for img_id in ids:
                data_info = self._scan_image(img_id, state)
                if data_info is not None:
                    data_list.append(data_info)
        finally:
            self.check_images = old_check
        problems = state['problems']
        if state['missing_pseudo']:
            problems.insert(0, self._missing_pseudo_message(
                state['seg_dir'], state['missing_pseudo'], len(ids)))
        return dict(
            data_list=data_list,
            problems=problems,
            num_listed=len(ids),
            class_images=state['class_images'],
            class_pixels=state['class_pixels'])

    def _missing_pseudo_message(self, seg_dir: str, missing: List[str],
                                total: int) -> str:
        shown = ', '.join(missing[:5]) + (
            f' ... ({len(missing) - 5} more)' if len(missing) > 5 else '')
        where = (f'lacks the labels of {len(missing)} of the {total} '
                 f'images of the split (e.g. {shown})') if osp.isdir(
                     seg_dir) else 'does not exist'
        return (f'pseudo-label folder {seg_dir} (data_prefix.seg_map_path) '
                f'{where}. It must hold <id>{self.seg_map_suffix} for every '
                f'id of {self.ann_file}: run the pseudo-label inference on '
                'this split first (tools/infer_cams.py CONFIG CKPT --split '
                '<split>, then tools/crf_refine.py / '
                'tools/infer_random_walk.py, or tools/run_pipeline.py), or '
                'point data_prefix.seg_map_path at the folder that has them '
                '(an absolute path; a relative one is taken under '
                'data_root).')

    # ------------------------------------------------------------------
    # loading samples
    # ------------------------------------------------------------------
    def prepare_data(self, idx: int):
        """Run the pipeline on sample ``idx``, applying ``on_bad_image``.

        Args:
            idx (int): Sample index.

        Returns:
            dict | None: The pipeline output, or None for an image skipped
            by ``on_bad_image='skip'`` (MMEngine then loads another sample
            in training).

        Raises:
            BadImageError: The image cannot be decoded
                (``on_bad_image='raise'``, or any policy in test mode).
        """
        try:
            return super().prepare_data(idx)
        except Exception as err:
            img_path = self.get_data_info(idx).get('img_path')
            problem = self._decode_problem(img_path, err)
            if problem is None:
                raise
        if self.on_bad_image == 'skip' and not self.test_mode:
            if img_path not in self.skipped_images:
                self.skipped_images.append(img_path)
                print_log(
                    f'skipped image {img_path}: {problem} (on_bad_image='
                    "'skip'); fix it or remove it from "
                    f'{self._id_source()}.',
                    logger='current',
                    level=logging.WARNING)
            return None
        fix = f'fix the file or remove it from {self._id_source()}'
        if not self.test_mode:
            fix += (" (or set on_bad_image='skip' in the dataset config to "
                    'train without it)')
        raise BadImageError(f'image {img_path} cannot be loaded: {problem}; '
                            f'{fix}. `python tools/check_dataset.py CONFIG '
                            '--decode` lists every such image.')

    def _id_source(self) -> str:
        """Name of the file or folder that lists the ids, for messages."""
        if self.ann_file:
            return f'the split list {self.ann_file}'
        if self.label_source == 'file' and self.label_file:
            return f'the label file {self._under_root(self.label_file)}'
        return f"the folder {self.data_prefix.get('img_path', '')}"

    def _decode_problem(self, img_path: Optional[str],
                        err: Exception) -> Optional[str]:
        """Why ``img_path`` failed to load, or None if the image is fine."""
        if not img_path:
            return None
        if 'failed to load image' in str(err):
            return 'the image loader cannot decode it'
        if self.backend_args is not None or not osp.isfile(img_path):
            return None
        from PIL import Image
        try:
            with Image.open(img_path) as img:
                img.load()
        except Exception as decode_err:  # noqa: BLE001
            return f'it cannot be decoded ({decode_err})'
        return None

    def load_data_list(self) -> List[dict]:
        """Read the split list, check the files and build the data infos.

        Returns:
            list[dict]: One data info per image id (see class docstring).

        Raises:
            DatasetError: On a missing root / split list / image / mask /
                XML, a malformed XML, an unknown class name, an image
                without any label, a pseudo-label folder without the labels
                of the split, or (``check_masks``) a mask with values outside
                the class range.
        """
        result = self.scan()
        problems = result['problems']
        if problems:
            listed = '\n  - '.join(problems[:_MAX_LISTED_PROBLEMS])
            more = len(problems) - _MAX_LISTED_PROBLEMS
            tail = f'\n  ... and {more} more.' if more > 0 else ''
            raise DatasetError(
                f'{len(problems)} problem(s) in the dataset of split list '
                f'{self.ann_file}:\n  - {listed}{tail}')
        return result['data_list']
