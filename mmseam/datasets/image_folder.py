# Copyright (c) mmseam contributors. All rights reserved.
"""A folder of images with a label file: the plain custom-data layout."""
import os
import os.path as osp
from typing import List, Optional

from mmseg.registry import DATASETS

from .file_checks import DatasetError, read_label_file
from .voc_cls import VOCClsDataset

__all__ = ['ImageFolderClsDataset']


@DATASETS.register_module()
class ImageFolderClsDataset(VOCClsDataset):
    """Images in one folder, image-level labels in one text file.

    The layout for a user's own data that is not in VOC layout::

        <data_root>/images/<id>.jpg        (img_suffix)
        <data_root>/labels.txt             one `<id> <class> ...` per line
        <data_root>/masks/<id>.png         optional, class-index PNGs
        <data_root>/<split>.txt            optional split lists

    ``labels.txt`` names the foreground classes of each image (whitespace
    or commas between tokens, ``#`` comments), e.g. ``street_001 car
    person``; see :func:`~mmseam.datasets.read_label_file`. With
    ``label_source='mask'`` the labels are read from the masks instead (the
    class indices found in each mask, minus 0 and 255) and no label file is
    needed.

    Without ``ann_file`` the dataset holds every image of the label file
    (``label_source='file'``), every mask of the mask folder
    (``label_source='mask'``) or every ``*<img_suffix>`` file of the image
    folder (other sources), sorted by id for the folders. Everything else,
    i.e. the checks at build time, the data infos (``img_path``,
    ``img_id``, ``img_labels`` of shape (num_fg,), ``seg_map_path`` with
    ``with_seg_map=True``), the palette handling and ``on_bad_image``, is
    :class:`VOCClsDataset`'s.

    Args:
        ann_file (str): Optional split list (ids, file names or label-file
            lines), relative to ``data_root``. Defaults to ``''`` (all
            images, see above).
        label_file (str): The label file, relative to ``data_root``.
            Defaults to ``'labels.txt'``.
        label_source (str): ``'file'`` or ``'mask'`` (also ``'xml'`` /
            ``'npy'``, see :class:`VOCClsDataset`). Defaults to ``'file'``.
        data_prefix (dict): Image and mask folders relative to
            ``data_root``. Defaults to
            ``dict(img_path='images', seg_map_path='masks')``.
        with_seg_map (bool): Attach ``<masks>/<id>.png`` to every sample
            (needed to evaluate CAMs). Defaults to False (no masks).
        **kwargs: Other arguments of :class:`VOCClsDataset` (``metainfo``
            with the class list, ``img_suffix``, ``check_masks``,
            ``on_bad_image``, ``pipeline``, ...).
    """
    _split_optional = True

    def __init__(self,
                 ann_file: str = '',
                 label_file: Optional[str] = 'labels.txt',
                 label_source: str = 'file',
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='masks'),
                 with_seg_map: bool = False,
                 **kwargs) -> None:
        super().__init__(
            ann_file=ann_file,
            label_file=label_file,
            label_source=label_source,
            data_prefix=data_prefix,
            with_seg_map=with_seg_map,
            **kwargs)

    def _folder_ids(self, folder: str, suffix: str, what: str) -> List[str]:
        """Sorted ids of the ``*<suffix>`` files of ``folder``."""
        if not osp.isdir(folder):
            raise DatasetError(
                f'{what} folder {folder!r} does not exist; check data_root '
                'and data_prefix in the dataset config.')
        ids = sorted(name[:-len(suffix)] for name in os.listdir(folder)
                     if name.endswith(suffix) and len(name) > len(suffix))
        if not ids:
            raise DatasetError(
                f'{what} folder {folder} holds no *{suffix} file; check '
                'data_prefix and img_suffix / seg_map_suffix in the dataset '
                'config.')
        return ids

    def _read_split(self) -> List[str]:
        """Ids of ``ann_file``, else of the label file or a folder."""
        if self.ann_file:
            return super()._read_split()
        if self.label_source == 'file':
            return list(
                read_label_file(
                    self._under_root(self.label_file), self._source_classes,
                    self.img_suffix))
        if self.label_source == 'mask':
            mask_dir = self._under_root(self.mask_dir) if self.mask_dir \
                else self.data_prefix.get('seg_map_path', '')
            return self._folder_ids(mask_dir, self.seg_map_suffix, 'mask')
        return self._folder_ids(
            self.data_prefix.get('img_path', ''), self.img_suffix, 'image')
