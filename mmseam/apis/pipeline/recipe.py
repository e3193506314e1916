# Copyright (c) mmseam contributors. All rights reserved.
"""The recipe of a run: a preset, or the user's data root and configs.

A user's recipe comes from a pipeline config file (``--pipeline-config``,
any file MMEngine reads: ``.py``, ``.yaml``, ``.json``) and/or from the
command line flags, which override the file's entries::

    data_root = 'data/my_set'
    work_dir = 'work_dirs/my_set'
    seam_config = 'configs/my_seam.py'      # required
    cam_config = 'configs/my_cam.py'        # optional: the CAM baseline
    pretrain_config = None                  # optional: a pretraining run
    affinity_config = None                  # optional: AffinityNet + RW
    stage2_config = None                    # optional: stage 2
    label_split = 'train'                   # images to pseudo-label
    eval_split = None                       # scored images (label split)
    epochs = dict(cam=8, seam=8)            # else the configs' schedules
    downstream_init = 'pretrain'  # AffinityNet/stage 2 start; or 'seam'
    crf_workers = 2
    infer_workers = 0

Relative paths are relative to the current directory (as ``data_root`` in
MMSegmentation configs); ``mmseam::seam/<name>.py`` names a config shipped
with mmseam. A split is a name (``train`` ->
``ImageSets/Segmentation/train.txt``), a ``.txt`` file relative to the data
root, or None (the split of the SEAM config's ``test_dataloader``).
"""
import os
import os.path as osp
from typing import Tuple

from .presets import PRESETS, DOWNSTREAM_INITS, TRAIN_STAGES, package_file

#: Defaults of a recipe made of the user's configs.
CUSTOM_DEFAULTS = dict(
    data_root=None,
    work_dir='work_dirs/pipeline',
    pretrain=None,
    cam=None,
    seam=None,
    affinity=None,
    stage2=None,
    label_split=None,
    eval_split=None,
    data=None,
    epochs={},
    downstream_init='pretrain',
    pretrain_extend=None,
    crf_workers=2,
    infer_workers=0,
    rw_alpha='match')

#: Keys of a pipeline config file (the command line flags' names).
FILE_KEYS = ('data_root', 'work_dir', 'label_split', 'eval_split', 'epochs',
             'downstream_init', 'crf_workers', 'infer_workers',
             'rw_alpha') + tuple(
                 f'{s}_config' for s in TRAIN_STAGES)


def resolve_user_path(path: str, what: str) -> str:
    """Absolute path of a file the user names (relative to the current
    directory; ``mmseam::`` for shipped configs).

    Raises:
        FileNotFoundError: Naming ``what`` and where it was looked for.
    """
    if path.startswith('mmseam::'):
        return package_file(path)
    if osp.isfile(path):
        return osp.abspath(path)
    raise FileNotFoundError(
        f'{what} {path}: no such file (relative paths are relative to the '
        f'current directory {os.getcwd()}; a config shipped with mmseam is '
        "named 'mmseam::seam/<name>.py').")


def load_pipeline_config(path: str) -> dict:
    """The entries of a pipeline config file (see the module docstring).

    Raises:
        KeyError: For an entry the pipeline does not know, naming the file,
            the key and the known keys.
    """
    from mmengine.config import Config
    path = resolve_user_path(path, '--pipeline-config')
    entries = {
        k: v
        for k, v in Config.fromfile(path).to_dict().items()
        if not k.startswith('_')
    }
    unknown = sorted(set(entries) - set(FILE_KEYS))
    if unknown:
        raise KeyError(f'{path}: unknown entries {unknown}; a pipeline '
                       f'config sets {", ".join(FILE_KEYS)}.')
    return entries


def user_entries(args) -> dict:
    """The recipe entries of ``--pipeline-config`` and of the flags (the
    flags win)."""
    entries = {}
    if getattr(args, 'pipeline_config', None):
        entries.update(load_pipeline_config(args.pipeline_config))
    for key in FILE_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            entries[key] = value
    return entries


def build_recipe(args) -> Tuple[dict, str, bool]:
    """The recipe of a run, its name for messages and whether it comes
    from a preset.

    The base is ``--preset``; without it, the ``synthetic`` preset unless
    the user names a pipeline config or stage configs, whose recipe then
    starts empty (the SEAM config and the data root are required). The
    entries of ``--pipeline-config`` and the flags go on top.

    Raises:
        ValueError: When the recipe lacks the SEAM config or the data
            root, or names an unknown stage in ``epochs``.
    """
    preset = getattr(args, 'preset', None)
    pipeline_config = getattr(args, 'pipeline_config', None)
    entries = user_entries(args)
    own_configs = bool(pipeline_config) or any(
        f'{s}_config' in entries for s in TRAIN_STAGES)
    base = preset or (None if own_configs else 'synthetic')
    overrides = {
        k: v
        for k, v in entries.items() if k not in ('data_root', 'work_dir')
    }
    if base and not overrides and not pipeline_config:
        return dict(PRESETS[base]), f'the {base} preset', True
    recipe = dict(PRESETS[base] if base else CUSTOM_DEFAULTS)
    where = pipeline_config or 'the command line'
    for key, value in entries.items():
        if key.endswith('_config'):
            stage = key[:-len('_config')]
            recipe[stage] = value and resolve_user_path(
                value, f'{stage} config ({where})')
        else:
            recipe[key] = value
    _check_custom(recipe, where)
    # the last step the configs allow
    recipe['stop_after'] = 'stage2' if recipe['stage2'] else (
        'rw' if recipe['affinity'] else 'crf')
    name = f'the {base} preset with {where}' if base else where
    return recipe, name, bool(base)


def _check_custom(recipe: dict, where: str) -> None:
    """Fail early on a user's recipe the pipeline cannot run."""
    if not recipe.get('seam'):
        raise ValueError(f'{where}: no SEAM config; pass --seam-config (or '
                         'set seam_config in the pipeline config).')
    if not recipe.get('data_root'):
        raise ValueError(f'{where}: no data root; pass --data-root (or set '
                         'data_root in the pipeline config).')
    unknown = sorted(set(recipe.get('epochs') or {}) - set(TRAIN_STAGES))
    if unknown:
        raise ValueError(f'{where}: epochs names unknown stages {unknown}; '
                         f'the stages are {", ".join(TRAIN_STAGES)}.')
    recipe['epochs'] = dict(recipe.get('epochs') or {})
    if recipe.get('downstream_init', 'pretrain') not in DOWNSTREAM_INITS:
        raise ValueError(
            f"{where}: downstream_init must be one of {DOWNSTREAM_INITS}, "
            f"got {recipe['downstream_init']!r}.")
