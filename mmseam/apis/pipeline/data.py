# Copyright (c) mmseam contributors. All rights reserved.
"""The pipeline's view of the data: the images of a split, their files and
whether they have masks to score against."""
import os.path as osp
from typing import Optional


def split_ann_file(split: Optional[str]) -> Optional[str]:
    """The split list of ``split``: a name (``train`` ->
    ``ImageSets/Segmentation/train.txt``), a ``.txt`` path relative to the
    data root (kept), or None (the config's own split)."""
    if not split:
        return None
    if split.endswith('.txt') or '/' in split:
        return split
    return osp.join('ImageSets', 'Segmentation', f'{split}.txt')


class DataSteps:
    """Mixin of :class:`Pipeline`: splits, image and mask files."""

    def split_dataset(self, split: Optional[str], cfg: Optional[str] = None):
        """The dataset of ``split`` as the ``test_dataloader`` of ``cfg``
        (default: the SEAM config) describes it, on the data root, without
        masks, loading images only.

        Returns:
            tuple: The dataset and the config.
        """
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmseg.registry import DATASETS
        init_default_scope('mmseg')
        cfg = cfg or self.p['seam']
        key = (cfg, split)
        cache = self.__dict__.setdefault('_datasets', {})
        if key not in cache:
            c = Config.fromfile(self.config_path(cfg))
            ds = c.test_dataloader.dataset.copy()
            ds.update(
                data_root=self.data_root,
                with_seg_map=False,
                pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(type='PackSegClsInputs')
                ])
            ann_file = split_ann_file(split)
            if ann_file is not None:
                ds['ann_file'] = ann_file
            cache[key] = (DATASETS.build(ds), c)
        return cache[key]

    def label_dataset(self, cfg_path: str):
        """The images to pseudo-label (the label split) with the test
        pipeline of ``cfg_path``.

        Returns:
            tuple: The dataset and the config.
        """
        return self.split_dataset(self.p['label_split'], cfg_path)

    def split_ids(self, split: Optional[str]) -> list:
        """The image ids of ``split``, in order."""
        return list(self.image_files(split))

    def image_files(self, split: Optional[str]) -> dict:
        """``{image id: image path}`` of ``split``."""
        ds, _ = self.split_dataset(split)
        infos = (ds.get_data_info(i) for i in range(len(ds)))
        return {str(i['img_id']): i['img_path'] for i in infos}

    def image_dir(self, split: Optional[str]) -> tuple:
        """The image folder and suffix of ``split``."""
        ds, _ = self.split_dataset(split)
        return ds.data_prefix['img_path'], ds.img_suffix

    def mask_dir(self, split: Optional[str]) -> str:
        """The mask folder of ``split`` (``<id>.png`` label maps)."""
        ds, _ = self.split_dataset(split)
        return ds.data_prefix.get('seg_map_path') or osp.join(
            self.data_root, 'SegmentationClass')

    def has_masks(self) -> bool:
        """Whether every image of the scored split has a mask.

        Raises:
            ValueError: When some have one and others not, naming the
                folder, an example and the fix.
        """
        split = self.eval_split
        folder, ids = self.mask_dir(split), self.split_ids(split)
        missing = [
            i for i in ids if not osp.isfile(osp.join(folder, f'{i}.png'))
        ]
        if missing and len(missing) < len(ids):
            raise ValueError(
                f'{len(ids) - len(missing)} of the {len(ids)} scored images '
                f'have masks in {folder}, {len(missing)} not (e.g. '
                f'{missing[0]}.png): add the missing masks, or pass '
                '--eval-split with a split of the images that have masks.')
        return not missing

    @property
    def eval_split(self) -> Optional[str]:
        """The scored split: ``eval_split``, else the split of the SEAM
        config's ``val_dataloader`` (the images with masks), else the label
        split."""
        if '_eval_split' not in self.__dict__:
            self._eval_split = self.p.get('eval_split') or \
                self.config_val_split() or self.p['label_split']
        return self._eval_split

    def config_val_split(self) -> Optional[str]:
        """``ann_file`` of the SEAM config's ``val_dataloader`` (None when
        it has none)."""
        from mmengine.config import Config
        c = Config.fromfile(self.config_path(self.p['seam']))
        loader = c.get('val_dataloader') or {}
        return (loader.get('dataset') or {}).get('ann_file') or None

    def split_title(self, split: Optional[str]) -> str:
        """A split's name for messages and the results table (for None:
        the config's split list, else ``all images``)."""
        if split:
            return split
        ann_file = getattr(self.split_dataset(None)[0], 'ann_file', '')
        return osp.relpath(ann_file, self.data_root) if ann_file else \
            'all images'

    @property
    def scored(self) -> bool:
        """Whether the pseudo labels can be scored (see
        :meth:`has_masks`); checked once per run."""
        if '_scored' not in self.__dict__:
            self._scored = self.has_masks()
        return self._scored
