# Copyright (c) mmseam contributors. All rights reserved.
"""What a pipeline run keeps on disk to resume: the scores and timings
(``results.json``), the model fingerprint of each training's work dir, and
the check that a synthetic data set matches its recipe."""
import hashlib
import json
import os
import os.path as osp
from typing import Optional

from ..cam_io import atomic_write


class ResultsFile:
    """The scores and timings of a run, in ``<work>/results.json``.

    ``results`` maps a step (``cam_cam``, ``seam_crf``, ...) to its scores,
    ``seconds`` a step to its wall time, ``classes`` lists the data set's
    classes (index 0: background). A file left by an earlier run is read
    back, so a resumed run keeps the numbers of the steps it skips.

    Args:
        path (str): The json file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.results: dict = {}
        self.timings: dict = {}
        self.classes: Optional[list] = None
        if osp.isfile(path):
            with open(path) as f:
                saved = json.load(f)
            self.results = saved.get('results', {})
            self.timings = saved.get('seconds', {})
            self.classes = saved.get('classes')

    def save(self) -> None:
        """Write the file atomically."""
        blob = dict(results=self.results, seconds=self.timings)
        if self.classes is not None:
            blob['classes'] = list(self.classes)
        blob = json.dumps(blob, indent=2)
        atomic_write(self.path, lambda f: f.write(blob.encode()))


def model_fingerprint(model_cfg) -> str:
    """SHA-1 of a model config without its ``init_cfg`` entries (another
    initialisation checkpoint trains the same network)."""

    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != 'init_cfg'}
        if isinstance(x, (list, tuple)):
            return [strip(v) for v in x]
        return x

    cfg = model_cfg.to_dict() if hasattr(model_cfg, 'to_dict') else model_cfg
    blob = json.dumps(strip(cfg), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()


def check_same_model(name: str, work_dir: str, model_cfg,
                     cfg_path: str) -> None:
    """Refuse a work dir whose checkpoints come from another model.

    The model config (initialisation paths left out) is fingerprinted
    into ``<work_dir>/model_cfg.sha1`` on first use. A work dir of another
    recipe (e.g. a six-block ``TinyConvNet``) would otherwise be reported
    "done already" or resumed into a network it does not fit.

    Args:
        name (str): The stage (``cam``, ``seam``, ...), for messages.
        work_dir (str): The stage's work dir.
        model_cfg (dict): The ``model`` of the config about to be trained.
        cfg_path (str): The config's path, for messages.

    Raises:
        RuntimeError: When the work dir holds another model's fingerprint,
            or checkpoints without a fingerprint.
    """
    digest = model_fingerprint(model_cfg)
    stamp = osp.join(work_dir, 'model_cfg.sha1')
    fix = (f'delete {work_dir} (or pass another --work-dir) to train '
           f'{name} anew')
    if osp.isfile(stamp):
        with open(stamp) as f:
            if f.read().strip() != digest:
                raise RuntimeError(
                    f'{name}: {work_dir} was trained with another model '
                    f'config than {cfg_path} now gives; {fix}')
        return
    if osp.isdir(work_dir) and any(
            n.endswith('.pth') for n in os.listdir(work_dir)):
        raise RuntimeError(
            f'{name}: {work_dir} holds checkpoints without model_cfg.sha1 '
            f'(made by an older mmseam, whose recipe may differ); {fix}')
    os.makedirs(work_dir, exist_ok=True)
    atomic_write(stamp, lambda f: f.write(digest.encode()))


def check_synthetic_data(data_root: str, wanted: dict) -> None:
    """Refuse a synthetic set made by another generator version or with
    other sizes than ``wanted`` (its numbers would not be comparable with
    the recipe's).

    Args:
        data_root (str): The set's root (holds ``metainfo.json``).
        wanted (dict): Generator arguments to match, e.g.
            ``dict(num_train=320)``; empty: only the format version.

    Raises:
        RuntimeError: Naming ``metainfo.json``, what differs and the fix.
    """
    from mmseam.datasets import synthetic
    path = osp.join(data_root, 'metainfo.json')
    try:
        with open(path) as f:
            meta = json.load(f)
    except json.JSONDecodeError as err:
        raise RuntimeError(
            f'{path} is not valid JSON ({err}); delete {data_root} to '
            'regenerate the synthetic set.') from err
    gen = meta.get('generator', {})
    diffs = []
    if meta.get('format_version') != synthetic._FORMAT_VERSION:
        diffs.append(f'format_version {meta.get("format_version")} != '
                     f'{synthetic._FORMAT_VERSION}')
    for key, value in wanted.items():
        if gen.get(key) != value:
            diffs.append(f'{key} {gen.get(key)} != {value}')
    if diffs:
        raise RuntimeError(
            f'{path}: this synthetic set does not match the preset '
            f'({"; ".join(diffs)}). Delete {data_root} to regenerate it '
            '(and the work dir, whose results came from the old set), or '
            'pass another --data-root.')
