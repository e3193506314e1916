# Copyright (c) mmseam contributors. All rights reserved.
"""Benchmark SEAM training, CAM inference, CRF and random walk.

    python tools/benchmark.py CONFIG [--what train|infer|crf|rw|pseudo]
        [--batch N] [--crop S] [--img-size H W] [--amp] [--iters N]
        [--warmup N] [--device cpu|cuda] [--compare-strict] [--rounds R]
        [--plain-wrapper] [--compile] [--profile N] [--threads T]
        [--cfg-options k=v ...]

Builds the model of CONFIG with random weights (no checkpoint is read) and
times ``--iters`` steps after ``--warmup`` untimed ones. Every result is one
JSON line on stdout::

    {"what": "train", "mode": "config", "img_per_s": ...,
     "sec_per_step_median": ..., "sec_per_step_mean": ...,
     "peak_mem_mib": ..., "mem_metric":
     "cuda_max_allocated" | "rss_peak", "device": "cpu", "device_name": ...,
     "torch": ..., "commit": ..., "config": ..., "batch": 8, "crop": 224,
     "amp": null | "bfloat16", ...}

Workloads (``--what``):

* ``train``: one full optimisation step without the data preprocessor:
  synthetic normalised crops (``--batch`` x 3 x ``--crop`` x ``--crop``)
  and ``SegDataSample`` s with ``img_labels``; ``model.loss`` under the
  config's ``optim_wrapper`` (built with ``build_optim_wrapper``),
  ``parse_losses``, backward and optimizer step, as
  ``BaseModel.train_step`` does after preprocessing.
* ``infer``: ``SEAM.multiscale_cam`` at ``--scales`` (default 0.5, 1, 1.5,
  2) x flip on a ``--img-size`` image (default 375 x 500), then the
  per-class normalisation and label mask; images/s.
* ``crf``: :func:`mmseam.apis.crf.crf_inference` (10 mean-field
  iterations, SEAM kernels) on ``--batch`` ``--img-size`` images with
  ``--classes`` score channels.
* ``rw``: :func:`mmseam.apis.random_walk` (SEAM alpha 6, beta 8, logt 6)
  from an AffinityNet-sized feature map (448 channels at 1/8 of
  ``--img-size``) with ``--classes`` - 1 CAMs.
* ``pseudo``: pseudo-label generation for a whole split, end to end:
  :func:`mmseam.apis.infer_cams` over ``--num-images`` JPEG files of
  ``--img-size`` (written to a temporary folder first; decoding, the
  4-scale x flip CAMs, the CAM/PNG writes and the dense CRF for SEAM's
  alphas 4 and 24 all counted), ``--batch`` same-size images a batch, CRF
  in ``--workers`` processes (default: all usable cores but two) running
  while the network computes the next images. One step = the whole split;
  images/s = ``--num-images`` / step time. Two untimed images warm the
  model up first.

``--compare-strict`` runs, in the same process:

* ``strict``: the strict-parity mode, fp32 official numerics: the config
  with ``model.channels_last=False``, ``model.test_cfg.amp_dtype=None`` and
  a non-AMP optimizer wrapper (what separates
  ``seam_resnet38d_1xb8-8e_voc12aug-448x448.py`` from its ``-bf16-`` variant);
  for ``rw`` the official dense propagation; for ``crf`` one image at a
  time.
* ``fast``: the config's own (fast) defaults, plus bf16 autocast with
  ``--amp``; for ``rw`` the automatic sparse/dense choice; for ``crf`` a
  worker pool of ``--workers`` processes.
* ``official`` (``train`` and ``infer``): a plain re-implementation of the
  official SEAM step (:mod:`mmseam.utils.reference_step`) on the same
  shapes (its own poly SGD, no optimizer wrapper),

and prints one ratio line per pair (``img_per_s_ratio`` = images/s of the
first over the second): ``fast/strict``, ``strict/official`` and
``fast/official``. When the fast mode compiles the network
(``model.compile_cfg`` for train, ``model.test_cfg.compile_cfg`` for infer,
or ``--compile``), a ``fast_eager`` mode (the same without
``torch.compile``) and the ratio ``fast/fast_eager`` are added; the strict
mode is always eager. ``--profile N`` adds, after each mode, a record with
the top kernels (GPU) or operators (CPU) by self time over N profiled
steps. For ``pseudo`` the modes are ``two_step`` (the same
inference, then the CRF pool over the saved CAMs: the two tools one after
the other) and ``fast`` (inference and CRF overlapped), with the ratio
``fast/two_step``. ``--rounds R`` builds every mode first and interleaves
their timed iterations R times (robust to drifting load on a shared
machine). On the CPU an AMP optimizer wrapper (MMEngine's needs a GPU) is
replaced by its non-AMP class under a hand-made autocast of its dtype.
See docs/benchmarks.md for measured figures and tools/benchmark_gpu.sh for
the prepared GPU run.

Peak memory: ``torch.cuda.max_memory_allocated`` on CUDA over the timed
steps (``peak_mem_mib``, reset after the warm-up) and over the warm-up
steps (``peak_mem_warmup_mib``: cuDNN autotuning workspaces land there); on
the CPU the peak resident set size of the process during the mode
(``VmHWM`` after resetting it through ``/proc/self/clear_refs``; where that
is not possible, ``ru_maxrss``, the process-lifetime peak).
"""
import argparse
import contextlib
import copy
import gc
import itertools
import json
import logging
import os
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseam  # noqa: E402,F401  (stubs mmcv._ext, registers components)
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
WHATS = ('train', 'infer', 'crf', 'rw', 'pseudo')
DEFAULT_BATCH = dict(train=8, infer=1, crf=1, rw=1, pseudo=1)


# ----------------------------------------------------------------------
# environment
# ----------------------------------------------------------------------
def git_commit() -> str:
    """Short commit of the repository, 'unknown' when git fails.

    ``MMSEAM_COMMIT`` overrides it (a copy of the tree without ``.git``,
    e.g. on a remote benchmark machine).
    """
    if os.environ.get('MMSEAM_COMMIT'):
        return os.environ['MMSEAM_COMMIT']
    try:
        out = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                             cwd=REPO,
                             capture_output=True,
                             text=True,
                             timeout=10)
        return out.stdout.strip() if out.returncode == 0 else 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def git_dirty() -> Optional[bool]:
    """Whether tracked files differ from the commit (None if unknown)."""
    if os.environ.get('MMSEAM_COMMIT'):
        return None
    try:
        out = subprocess.run(
            ['git', '--no-optional-locks', 'status', '--porcelain',
             '--untracked-files=no'],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30)
        return bool(out.stdout.strip()) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def device_name(device: torch.device) -> str:
    """GPU name, or the CPU model and the usable core count."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    model = platform.processor() or 'cpu'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return f'{model} ({cores} cores)'


class PeakMemory:
    """Peak memory of a code region, in MiB.

    CUDA: ``max_memory_allocated`` after ``reset_peak_memory_stats``. CPU:
    the resident-set high-water mark ``VmHWM`` after resetting it (writing
    5 to ``/proc/self/clear_refs``), else ``ru_maxrss``.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.metric = ('cuda_max_allocated'
                       if device.type == 'cuda' else 'rss_peak')

    def __enter__(self) -> 'PeakMemory':
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            try:
                with open('/proc/self/clear_refs', 'w') as f:
                    f.write('5')
            except OSError:
                self.metric = 'rss_peak_process_lifetime'
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == 'cuda':
            self.peak = torch.cuda.max_memory_allocated(self.device) / 2**20
            return
        self.peak = None
        if self.metric == 'rss_peak':
            try:
                with open('/proc/self/status') as f:
                    for line in f:
                        if line.startswith('VmHWM:'):
                            self.peak = int(line.split()[1]) / 1024
            except OSError:
                pass
        if self.peak is None:
            self.metric = 'rss_peak_process_lifetime'
            self.peak = resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_steps(step: Callable[[], None], device: torch.device, iters: int,
               warmup: int) -> Dict[str, object]:
    """Run ``warmup`` + ``iters`` steps; per-step wall times and peak mem.

    ``peak_mem_mib`` is the peak of the timed (steady-state) steps;
    ``peak_mem_warmup_mib`` that of the warm-up steps, which includes
    one-off allocations such as cuDNN autotuning workspaces.
    """
    with PeakMemory(device) as warm_mem:
        for _ in range(warmup):
            step()
        sync(device)
    with PeakMemory(device) as mem:
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            step()
            sync(device)
            times.append(time.perf_counter() - t0)
    return dict(
        times=times,
        peak_mem_mib=mem.peak,
        peak_mem_warmup_mib=warm_mem.peak if warmup else None,
        mem_metric=mem.metric)


# ----------------------------------------------------------------------
# configs
# ----------------------------------------------------------------------
def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """The config with random backbone weights (no checkpoint is read)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path!r} does not exist')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.model.get('type') != 'SEAM':
        raise ValueError(
            f'{path}: tools/benchmark.py benchmarks SEAM configs '
            f'(model.type="SEAM"), got model.type={cfg.model.get("type")!r}.')
    cfg.model.pretrained = None
    cfg.model.backbone.init_cfg = None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return cfg


def _non_amp_wrapper(wrapper_cfg: dict) -> dict:
    """The non-AMP counterpart of an optimizer-wrapper config."""
    wrapper_cfg = copy.deepcopy(dict(wrapper_cfg))
    kind = wrapper_cfg.get('type', 'OptimWrapper')
    if isinstance(kind, str) and 'Amp' in kind:
        wrapper_cfg['type'] = kind.replace('Amp', '')
        wrapper_cfg.pop('dtype', None)
        wrapper_cfg.pop('loss_scale', None)
        wrapper_cfg.pop('use_fsdp', None)
    return wrapper_cfg


def plain_wrapper(wrapper_cfg: dict) -> dict:
    """MMEngine's own wrapper class in place of the config's subclass.

    ``OptimWrapper`` (``AmpOptimWrapper`` for AMP configs) with the same
    optimizer, ``paramwise_cfg`` and the arguments that class accepts; the
    extra arguments of a subclass (e.g. the NaN guard's ``action``) are
    dropped. Isolates the cost of such subclasses.
    """
    import inspect

    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    wrapper_cfg = copy.deepcopy(dict(wrapper_cfg))
    kind = wrapper_cfg.get('type', 'OptimWrapper')
    cls = AmpOptimWrapper if isinstance(kind, str) and 'Amp' in kind \
        else OptimWrapper
    allowed = {'type', 'constructor', 'paramwise_cfg', 'optimizer'}
    for klass in (cls, OptimWrapper):
        allowed |= set(inspect.signature(klass.__init__).parameters)
    out = {k: v for k, v in wrapper_cfg.items() if k in allowed}
    out['type'] = cls.__name__
    return out


def to_strict(cfg: Config) -> Config:
    """Strict-parity variant: fp32, NCHW, no AMP wrapper.

    Turns ``seam_resnet38d_1xb8-bf16-8e_voc12aug-448x448.py`` into (the
    relevant keys of) ``seam_resnet38d_1xb8-8e_voc12aug-448x448.py``:
    ``model.channels_last=False``, ``model.test_cfg.amp_dtype=None``, no
    ``torch.compile``, the non-AMP class of the optimizer wrapper
    (``*AmpOptimWrapper`` -> ``*OptimWrapper``, without ``dtype`` /
    ``loss_scale``). The optimizer is kept as configured (the SEAM
    schedule's fused SGD is bit-identical to the foreach one on the CPU).
    """
    cfg = copy.deepcopy(cfg)
    cfg.model.channels_last = False
    cfg.model.setdefault('test_cfg', {})
    cfg.model.test_cfg['amp_dtype'] = None
    cfg = to_eager(cfg)
    if 'optim_wrapper' in cfg:
        cfg.optim_wrapper = _non_amp_wrapper(cfg.optim_wrapper)
    return cfg


def to_eager(cfg: Config) -> Config:
    """The config without ``torch.compile`` (``model.compile_cfg`` and
    ``model.test_cfg.compile_cfg`` set to None)."""
    cfg = copy.deepcopy(cfg)
    cfg.model['compile_cfg'] = None
    cfg.model.setdefault('test_cfg', {})
    cfg.model.test_cfg['compile_cfg'] = None
    return cfg


def compiles(cfg: Config, what: str) -> bool:
    """Whether the config compiles the network for ``what`` (a
    ``compile_cfg`` that is a dict, even an empty one, or True)."""
    if what == 'train':
        value = cfg.model.get('compile_cfg')
    elif what == 'infer':
        value = cfg.model.get('test_cfg', {}).get('compile_cfg')
    else:
        return False
    return value is not None and value is not False


def profile_steps(step: Callable[[], None], device: torch.device,
                  steps: int, top: int = 30) -> Dict[str, object]:
    """Where a step's time goes: ``torch.profiler`` over ``steps`` steps.

    Returns the ``top`` entries by self time (device time of kernels on a
    GPU, CPU time of operators on the CPU), each ``name``,
    ``ms_per_step`` and ``calls_per_step``, plus the total.
    """
    from torch.profiler import ProfilerActivity, profile
    cuda = device.type == 'cuda'
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=acts) as prof:
        for _ in range(steps):
            step()
        sync(device)
    attr = 'self_device_time_total' if cuda else 'self_cpu_time_total'
    events = [e for e in prof.key_averages() if getattr(e, attr, 0) > 0]
    events.sort(key=lambda e: getattr(e, attr), reverse=True)
    return dict(
        profile_metric=attr,
        profile_steps=steps,
        profile_total_ms_per_step=sum(getattr(e, attr)
                                      for e in events) / 1e3 / steps,
        profile_top=[
            dict(
                name=e.key[:160],
                ms_per_step=getattr(e, attr) / 1e3 / steps,
                calls_per_step=e.count / steps) for e in events[:top]
        ])


def config_amp(cfg: Config) -> Optional[str]:
    """The autocast dtype the config's optimizer wrapper trains with."""
    wrapper = cfg.get('optim_wrapper') or {}
    kind = wrapper.get('type', 'OptimWrapper')
    if isinstance(kind, str) and 'Amp' in kind:
        dtype = wrapper.get('dtype') or 'float16'
        return dtype if isinstance(dtype, str) else str(dtype).split('.')[-1]
    return None


def build_model(cfg: Config, device: torch.device, seed: int):
    from mmseg.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    return model.to(device)


def _set_cudnn(cfg: Config, device: torch.device) -> None:
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = bool(
            cfg.get('env_cfg', {}).get('cudnn_benchmark', False))


# ----------------------------------------------------------------------
# synthetic inputs
# ----------------------------------------------------------------------
def make_labels(n: int, num_fg: int, seed: int) -> torch.Tensor:
    """(n, num_fg) multi-hot labels with 1-3 present classes each."""
    rng = np.random.RandomState(seed)
    labels = np.zeros((n, num_fg), np.float32)
    for i in range(n):
        k = rng.randint(1, min(3, num_fg) + 1)
        labels[i, rng.choice(num_fg, k, replace=False)] = 1
    return torch.from_numpy(labels)


def make_samples(labels: torch.Tensor, size, device: torch.device) -> list:
    from mmseg.structures import SegDataSample
    samples = []
    for row in labels:
        s = SegDataSample(
            metainfo=dict(ori_shape=tuple(size), img_shape=tuple(size)))
        s.set_data(dict(img_labels=row.to(device)))
        samples.append(s)
    return samples


def smooth_image(h: int, w: int, seed: int) -> np.ndarray:
    """A uint8 RGB image with smooth regions (a natural-image stand-in)."""
    rng = np.random.RandomState(seed)
    low = torch.from_numpy(rng.rand(1, 3, 12, 16).astype(np.float32))
    img = torch.nn.functional.interpolate(
        low, (h, w), mode='bicubic', align_corners=False)[0]
    img = img + 0.03 * torch.from_numpy(
        rng.randn(3, h, w).astype(np.float32))
    img = (img.clamp(0, 1) * 255).round().byte()
    return np.ascontiguousarray(img.permute(1, 2, 0).numpy())


# ----------------------------------------------------------------------
# workloads: each returns a step closure (and per-step image count)
# ----------------------------------------------------------------------
def train_step_fn(cfg: Config, args, device: torch.device,
                  amp: Optional[str]):
    """mmseam's training step under ``cfg``; autocast ``amp`` if given."""
    from mmengine.optim import build_optim_wrapper
    _set_cudnn(cfg, device)
    model = build_model(cfg, device, args.seed)
    model.train()
    wrapper_cfg = copy.deepcopy(dict(cfg.optim_wrapper))
    if args.plain_wrapper:
        wrapper_cfg = plain_wrapper(wrapper_cfg)
    manual_amp = amp
    kind = wrapper_cfg.get('type', 'OptimWrapper')
    if isinstance(kind, str) and 'Amp' in kind:
        if device.type == 'cuda':
            manual_amp = None if amp == config_amp(cfg) else amp
        else:
            # MMEngine's AmpOptimWrapper needs a GPU; autocast by hand.
            wrapper_cfg = _non_amp_wrapper(wrapper_cfg)
    optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
    n, s = args.batch, args.crop
    g = torch.Generator().manual_seed(args.seed)
    inputs = torch.randn(n, 3, s, s, generator=g).to(device)
    labels = make_labels(n, model.num_classes - 1, args.seed)
    samples = make_samples(labels, (s, s), device)
    autocast = (
        torch.autocast(device.type, dtype=getattr(torch, manual_amp))
        if manual_amp else contextlib.nullcontext())

    def step():
        with optim_wrapper.optim_context(model), autocast:
            losses = model(inputs, samples, mode='loss')
        loss, _ = model.parse_losses(losses)
        optim_wrapper.update_params(loss)

    info = dict(
        channels_last=bool(getattr(model, 'channels_last', False)),
        optim_wrapper=type(optim_wrapper).__name__)
    return step, n, info


def official_train_step_fn(cfg: Config, args, device: torch.device):
    """The plain official step (mmseam.utils.reference_step)."""
    from mmseam.utils.reference_step import (build_official_like,
                                             build_official_optimizer,
                                             official_train_step)
    torch.manual_seed(args.seed)
    net = build_official_like(cfg.model).to(device)
    net.train()
    opt_cfg = cfg.optim_wrapper.get('optimizer', {})
    optimizer = build_official_optimizer(
        net,
        lr=opt_cfg.get('lr', 0.01),
        weight_decay=opt_cfg.get('weight_decay', 5e-4))
    n, s = args.batch, args.crop
    g = torch.Generator().manual_seed(args.seed)
    img = torch.randn(n, 3, s, s, generator=g).to(device)
    labels = make_labels(n, cfg.model.num_classes - 1, args.seed).to(device)
    scale = (cfg.model.get('equivariant_transform') or {}).get(
        'scale_factor', 0.3)

    def step():
        official_train_step(net, optimizer, img, labels, scale)

    return step, n, dict(
        channels_last=False, optim_wrapper=type(optimizer).__name__)


def cycle_sizes(size, k: int) -> List[Tuple[int, int]]:
    """``k`` image sizes for ``--size-cycle``: ``size`` and ``k - 1`` others
    with the same width and heights 16, 32, ... pixels smaller (VOC's
    images are mostly 500 wide with varying heights)."""
    h, w = size
    return [(max(h - 16 * i, 16), w) for i in range(k)]


def infer_step_fn(cfg: Config, args, device: torch.device,
                  amp: Optional[str]):
    """``multiscale_cam`` x flip + normalisation on one batch of images."""
    _set_cudnn(cfg, device)
    model = build_model(cfg, device, args.seed)
    model.eval()
    if amp:
        model.test_cfg['amp_dtype'] = amp
    used_amp = model.test_cfg.get('amp_dtype')
    n = args.batch
    g = torch.Generator().manual_seed(args.seed)
    imgs = [
        torch.randn(n, 3, h, w, generator=g).to(device)
        for h, w in cycle_sizes(args.img_size, args.size_cycle)
    ]
    labels = make_labels(n, model.num_classes - 1, args.seed).to(device)
    source = model.test_cfg['cam_source']
    count = itertools.count()

    @torch.no_grad()
    def step():
        img = imgs[next(count) % len(imgs)]
        raw = model.multiscale_cam(
            img,
            scales=args.scales,
            flip=not args.no_flip,
            out_size=img.shape[-2:],
            source=source)
        cam = model.normalize_cam(raw) * labels[:, :, None, None]
        cam.cpu()

    return step, n, dict(
        channels_last=bool(getattr(model, 'channels_last', False)),
        amp=used_amp)


def official_infer_step_fn(cfg: Config, args, device: torch.device):
    from mmseam.utils.reference_step import (build_official_like,
                                             official_infer)
    torch.manual_seed(args.seed)
    net = build_official_like(cfg.model).to(device).eval()
    h, w = args.img_size
    n = args.batch
    g = torch.Generator().manual_seed(args.seed)
    imgs = torch.randn(n, 3, h, w, generator=g).to(device)
    labels = make_labels(n, cfg.model.num_classes - 1, args.seed)

    def step():
        for i in range(n):
            official_infer(net, imgs[i:i + 1], labels[i], args.scales,
                           not args.no_flip)

    return step, n, dict(channels_last=False)


def crf_step_fn(args, workers: int):
    """``crf_inference`` on ``--batch`` images, serially or in a pool."""
    from mmseam.apis.crf import crf_inference
    h, w = args.img_size
    k = args.classes
    jobs = []
    for i in range(args.batch):
        img = smooth_image(h, w, args.seed + i)
        rng = np.random.RandomState(args.seed + i)
        low = torch.from_numpy(rng.rand(1, k, 12, 16).astype(np.float32))
        probs = torch.nn.functional.interpolate(
            low, (h, w), mode='bilinear', align_corners=False)[0].numpy()
        jobs.append((img, np.ascontiguousarray(probs)))
    pool = None
    if workers > 1:
        import multiprocessing
        pool = multiprocessing.get_context('fork').Pool(workers)

    def step():
        if pool is None:
            for job in jobs:
                crf_inference(*job)
        else:
            pool.starmap(crf_inference, jobs, chunksize=1)

    return step, args.batch, dict(workers=workers), pool


def rw_step_fn(args, device: torch.device, method: str):
    """``random_walk`` from 448-channel features at 1/8 of the image."""
    from mmseam.apis import random_walk
    h, w = args.img_size
    k = max(args.classes - 1, 0)
    fh, fw = -(-h // 8), -(-w // 8)
    g = torch.Generator().manual_seed(args.seed)
    low = torch.rand(1, max(k, 1), 6, 8, generator=g)
    cams = torch.nn.functional.interpolate(
        low, (h, w), mode='bilinear', align_corners=False)[0, :k]
    cams = cams.to(device)
    feats = [
        torch.randn(448, fh, fw, generator=g).to(device)
        for _ in range(args.batch)
    ]
    labels = list(range(1, k + 1))

    def step():
        for feat in feats:
            random_walk(cams, labels, features=feat, method=method)
        sync(device)

    return step, args.batch, dict(rw_method=method)


class _ImageFolderSplit(torch.utils.data.Dataset):
    """JPEG files + random image labels, shaped like the CAM inference
    dataset (``PackSegClsInputs`` output at the original size)."""

    def __init__(self, paths: List[str], labels: torch.Tensor):
        self.paths = paths
        self.labels = labels
        self.metainfo = dict(palette=None)

    def __len__(self) -> int:
        return len(self.paths)

    def get_data_info(self, idx: int) -> dict:
        path = self.paths[idx]
        return dict(
            img_path=path, img_id=osp.splitext(osp.basename(path))[0])

    def __getitem__(self, idx: int) -> dict:
        from mmseg.structures import SegDataSample
        from PIL import Image
        with Image.open(self.paths[idx]) as im:
            img = np.array(im.convert('RGB'))[..., ::-1]  # BGR as mmcv
        h, w = img.shape[:2]
        sample = SegDataSample(
            metainfo=dict(
                img_path=self.paths[idx],
                ori_shape=(h, w),
                img_shape=(h, w)))
        sample.set_data(dict(img_labels=self.labels[idx]))
        inputs = torch.from_numpy(np.ascontiguousarray(
            img.transpose(2, 0, 1)))
        return dict(inputs=inputs, data_samples=sample)


def pseudo_step_fn(cfg: Config, args, device: torch.device,
                   amp: Optional[str], overlap: bool, workdir: str):
    """Pseudo labels + CRF of a whole split with ``infer_cams``."""
    from PIL import Image

    from mmseam.apis import CRFConfig, infer_cams, refine_split
    _set_cudnn(cfg, device)
    model = build_model(cfg, device, args.seed)
    model.eval()
    if amp:
        model.test_cfg['amp_dtype'] = amp
    h, w = args.img_size
    img_dir = osp.join(workdir, 'images')
    os.makedirs(img_dir, exist_ok=True)
    paths = []
    for i in range(args.num_images):
        path = osp.join(img_dir, f'img_{i:05d}.jpg')
        if not osp.isfile(path):
            Image.fromarray(smooth_image(h, w, args.seed + i)).save(
                path, quality=90)
        paths.append(path)
    labels = make_labels(args.num_images, model.num_classes - 1, args.seed)
    dataset = _ImageFolderSplit(paths, labels)
    workers = args.workers or max(len(os.sched_getaffinity(0)) - 2, 1)
    crf = CRFConfig(alphas=(4, 24))
    out = osp.join(workdir, 'overlap' if overlap else 'two_step')
    common = dict(
        scales=args.scales,
        flip=not args.no_flip,
        overwrite=True,
        num_workers=2,
        batch_size=args.batch,
        show_progress=False)
    # warm-up (cudnn autotuning, allocator) on two images, untimed
    warm = _ImageFolderSplit(paths[:2], labels[:2])
    infer_cams(model, warm, osp.join(workdir, 'warmup'),
               **dict(common, num_workers=0))

    def step():
        if overlap:
            infer_cams(
                model,
                dataset,
                out,
                crf=crf,
                crf_workers=workers,
                **common)
        else:
            infer_cams(model, dataset, out, **common)
            refine_split([dataset.get_data_info(i)['img_id']
                          for i in range(len(dataset))],
                         cam_dir=osp.join(out, 'cams'),
                         img_dir=img_dir,
                         out_dir=osp.join(out, 'crf'),
                         alphas=crf.alphas,
                         crf_cfg=crf,
                         workers=workers,
                         overwrite=True,
                         progress=False)
        sync(device)

    return step, args.num_images, dict(
        channels_last=bool(getattr(model, 'channels_last', False)),
        amp=model.test_cfg.get('amp_dtype'),
        crf_workers=workers,
        overlap=overlap,
        num_images=args.num_images)


# ----------------------------------------------------------------------
# driver
# ----------------------------------------------------------------------
def _record(what: str, mode: str, res: dict, images: int, args,
            device: torch.device, base: dict, info: dict) -> dict:
    times = res['times']
    med = statistics.median(times)
    rec = dict(
        what=what,
        mode=mode,
        img_per_s=images / med,
        sec_per_step_median=med,
        sec_per_step_mean=statistics.fmean(times),
        sec_per_step_min=min(times),
        iters=len(times),
        warmup=args.warmup,
        peak_mem_mib=res['peak_mem_mib'],
        peak_mem_warmup_mib=res.get('peak_mem_warmup_mib'),
        mem_metric=res['mem_metric'])
    rec.update(base)
    rec.update(
        batch=args.batch,
        crop=args.crop if what == 'train' else None,
        img_size=list(args.img_size) if what != 'train' else None)
    if what == 'infer' and args.size_cycle > 1:
        rec['img_sizes'] = [
            list(hw) for hw in cycle_sizes(args.img_size, args.size_cycle)
        ]
    rec.setdefault('amp', None)
    rec.setdefault('channels_last', False)
    rec.update(info)
    return rec


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()


def _ratio(what: str, a: dict, b: dict, base: dict) -> dict:
    rec = dict(
        what=what,
        ratio=f'{a["mode"]}/{b["mode"]}',
        img_per_s_ratio=a['img_per_s'] / b['img_per_s'],
        sec_per_step_ratio=(a['sec_per_step_median'] /
                            b['sec_per_step_median']))
    rec.update(base)
    return rec


def run(args) -> List[dict]:
    """Run the benchmark; returns (and prints) the JSON records."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    if not args.verbose:  # keep stdout to the JSON lines
        logger.setLevel(logging.ERROR)
    try:
        return _run(args)
    finally:
        logger.setLevel(level)


def _run(args) -> List[dict]:
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda was given but no CUDA device is '
                           'available; use --device cpu.')
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, args.cfg_options)
    if args.compile:
        cfg.model.setdefault('test_cfg', {})
        if not compiles(cfg, 'train'):
            cfg.model['compile_cfg'] = dict(dynamic=False)
        if not compiles(cfg, 'infer'):
            # as the bf16 config (torch 2.11's Inductor fails an assertion
            # in this analysis on the dynamic-shape graph)
            cfg.model.test_cfg['compile_cfg'] = dict(
                options={'triton.coalesce_tiling_analysis': False})
    if args.profile and args.rounds > 1:
        raise ValueError('--profile works with --rounds 1 only')
    if args.batch is None:
        args.batch = DEFAULT_BATCH[args.what]
    if args.crop is None:
        size = cfg.model.get('data_preprocessor', {}).get('size')
        args.crop = int(size[0]) if size else 448
    amp = 'bfloat16' if args.amp else None
    base = dict(
        device=device.type,
        device_name=device_name(device),
        num_threads=torch.get_num_threads(),
        torch=torch.__version__,
        commit=git_commit(),
        git_dirty=git_dirty(),
        config=osp.relpath(osp.abspath(args.config), REPO)
        if osp.abspath(args.config).startswith(REPO) else args.config)
    what = args.what
    records: List[dict] = []

    def emit(rec: dict) -> None:
        records.append(rec)
        print(json.dumps(rec), flush=True)

    pending: List[tuple] = []
    cleanups: List[str] = []

    def bench(mode: str, make) -> None:
        pending.append((mode, make))

    def run_pending() -> Dict[str, dict]:
        """Time the queued modes; interleaved over ``--rounds``."""
        out: Dict[str, dict] = {}
        if args.rounds == 1:
            for mode, make in pending:
                built = make()
                pool = built[3] if len(built) > 3 else None
                try:
                    res = time_steps(built[0], device, args.iters,
                                     args.warmup)
                    prof = profile_steps(built[0], device, args.profile) \
                        if args.profile else None
                finally:
                    if pool is not None:
                        pool.close()
                        pool.join()
                rec = _record(what, mode, res, built[1], args, device, base,
                              built[2])
                del built
                _free(device)
                emit(rec)
                if prof is not None:
                    emit(dict(what=what, mode=mode, **prof, **base))
                out[mode] = rec
            return out
        built = {mode: make() for mode, make in pending}
        results = {mode: None for mode, _ in pending}
        try:
            for r in range(args.rounds):
                for mode, _ in pending:
                    res = time_steps(built[mode][0], device, args.iters,
                                     args.warmup if r == 0 else 0)
                    prev = results[mode]
                    if prev is not None:
                        res['times'] = prev['times'] + res['times']
                        res['peak_mem_mib'] = max(prev['peak_mem_mib'],
                                                  res['peak_mem_mib'])
                        res['peak_mem_warmup_mib'] = prev[
                            'peak_mem_warmup_mib']
                    results[mode] = res
        finally:
            for b in built.values():
                if len(b) > 3 and b[3] is not None:
                    b[3].close()
                    b[3].join()
        for mode, _ in pending:
            rec = _record(what, mode, results[mode], built[mode][1], args,
                          device, base, built[mode][2])
            rec['rounds'] = args.rounds
            emit(rec)
            out[mode] = rec
        return out

    def finish(pairs) -> None:
        recs = run_pending()
        for a, b in pairs:
            emit(_ratio(what, recs[a], recs[b], base))

    pairs = [('fast', 'strict'), ('strict', 'official'),
             ('fast', 'official')]
    if what == 'train':
        fast_amp = amp or config_amp(cfg)

        def ours(c, a):

            def make():
                step, n, info = train_step_fn(c, args, device, a)
                info['amp'] = a
                return step, n, info

            return make

        if not args.compare_strict:
            bench('config', ours(cfg, fast_amp))
        else:
            bench('strict', ours(to_strict(cfg), None))
            bench('fast', ours(cfg, fast_amp))
            if compiles(cfg, what):
                bench('fast_eager', ours(to_eager(cfg), fast_amp))
                pairs.append(('fast', 'fast_eager'))
            bench('official',
                  lambda: official_train_step_fn(cfg, args, device))
    elif what == 'infer':
        if not args.compare_strict:
            bench('config', lambda: infer_step_fn(cfg, args, device, amp))
        else:
            bench('strict',
                  lambda: infer_step_fn(to_strict(cfg), args, device, None))
            bench('fast', lambda: infer_step_fn(cfg, args, device, amp))
            if compiles(cfg, what):
                bench('fast_eager', lambda: infer_step_fn(
                    to_eager(cfg), args, device, amp))
                pairs.append(('fast', 'fast_eager'))
            bench('official',
                  lambda: official_infer_step_fn(cfg, args, device))
    elif what == 'crf':
        pairs = pairs[:1]
        if not args.compare_strict:
            bench('config', lambda: crf_step_fn(args, args.workers or 1))
        else:
            pool_size = args.workers or len(os.sched_getaffinity(0))
            bench('strict', lambda: crf_step_fn(args, 1))
            bench('fast', lambda: crf_step_fn(args, pool_size))
    elif what == 'pseudo':
        import tempfile
        workdir = tempfile.mkdtemp(prefix='mmseam_bench_pseudo_')
        cleanups.append(workdir)
        pairs = [('fast', 'two_step')]
        fast_amp = amp or cfg.model.get('test_cfg', {}).get('amp_dtype')
        if not args.compare_strict:
            bench('config', lambda: pseudo_step_fn(cfg, args, device,
                                                   fast_amp, True, workdir))
        else:
            bench('two_step', lambda: pseudo_step_fn(
                cfg, args, device, fast_amp, False, workdir))
            bench('fast', lambda: pseudo_step_fn(cfg, args, device,
                                                 fast_amp, True, workdir))
    elif what == 'rw':
        pairs = pairs[:1]
        if not args.compare_strict:
            bench('config', lambda: rw_step_fn(args, device, 'auto'))
        else:
            bench('strict', lambda: rw_step_fn(args, device, 'dense'))
            bench('fast', lambda: rw_step_fn(args, device, 'auto'))
    try:
        finish(pairs if args.compare_strict else [])
    finally:
        import shutil
        for path in cleanups:
            shutil.rmtree(path, ignore_errors=True)
    return records


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Benchmark SEAM training / inference / CRF / RW')
    p.add_argument('config', help='SEAM config file')
    p.add_argument('--what', choices=WHATS, default='train')
    p.add_argument(
        '--batch',
        type=int,
        default=None,
        help='images per step (default: train 8, infer/crf/rw 1)')
    p.add_argument(
        '--crop',
        type=int,
        default=None,
        help='train crop size (default: the data preprocessor size)')
    p.add_argument(
        '--img-size',
        type=int,
        nargs=2,
        default=[375, 500],
        metavar=('H', 'W'),
        help='image size for infer / crf / rw (default 375 500)')
    p.add_argument(
        '--size-cycle',
        type=int,
        default=1,
        metavar='K',
        help='infer: cycle through K image sizes, one a step (--img-size '
        'and heights 16, 32, ... smaller), as a split of mixed sizes does; '
        'use --warmup >= K so every size is seen before timing (default 1)')
    p.add_argument(
        '--scales', type=float, nargs='+', default=[0.5, 1.0, 1.5, 2.0])
    p.add_argument('--no-flip', action='store_true')
    p.add_argument(
        '--classes',
        type=int,
        default=3,
        help='crf / rw: score channels including background (default 3)')
    p.add_argument(
        '--amp',
        action='store_true',
        help='bf16 autocast (added to the config defaults)')
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        choices=['cpu', 'cuda'])
    p.add_argument(
        '--compare-strict',
        action='store_true',
        help='strict-parity vs fast default (and the official step for '
        'train / infer) in one process, with ratio lines')
    p.add_argument(
        '--plain-wrapper',
        action='store_true',
        help="train: MMEngine's OptimWrapper / AmpOptimWrapper instead of "
        "the config's wrapper subclass (isolates e.g. the NaN guard's "
        'per-step checks)')
    p.add_argument(
        '--workers',
        type=int,
        default=None,
        help='crf worker processes (default: 1; with --compare-strict the '
        'fast mode uses all usable cores; pseudo: all usable cores but '
        'two)')
    p.add_argument(
        '--num-images',
        type=int,
        default=32,
        help='pseudo: images in the split (default 32)')
    p.add_argument(
        '--threads', type=int, default=None, help='torch.set_num_threads')
    p.add_argument(
        '--rounds',
        type=int,
        default=1,
        help='with several modes: build them all and run their timed '
        'iterations interleaved this many times (robust to drifting load '
        'on shared machines; peak memory then includes the other modes\' '
        'resident models)')
    p.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile the network in the config / fast mode (sets '
        'model.compile_cfg=dict(dynamic=False) for train and '
        'model.test_cfg.compile_cfg as the bf16 config for infer when the '
        'config has none); with --compare-strict a fast_eager mode is '
        'added')
    p.add_argument(
        '--profile',
        type=int,
        default=0,
        metavar='N',
        help='after timing a mode, profile N more steps (torch.profiler) '
        'and print the top kernels / operators by self time (not with '
        '--rounds)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument(
        '--verbose', action='store_true', help='keep MMEngine log output')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(argv)
    for name in ('iters', 'warmup', 'batch', 'crop', 'classes', 'rounds',
                 'num_images', 'profile', 'size_cycle'):
        value = getattr(args, name)
        if value is not None and value < (
                0 if name in ('warmup', 'profile') else 1):
            p.error(f'--{name} must be positive, got {value}')
    return args


def main(argv=None) -> List[dict]:
    return run(parse_args(argv))


if __name__ == '__main__':
    main()
