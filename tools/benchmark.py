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
  official SEAM step (``tests/official_reference.py``) on the same shapes
  (its own poly SGD, no optimizer wrapper),

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
the prepared GPU benchmark. The code lives in ``tools/benchmarking/``.

Peak memory: ``torch.cuda.max_memory_allocated`` on CUDA over the timed
steps (``peak_mem_mib``, reset after the warm-up) and over the warm-up
steps (``peak_mem_warmup_mib``: cuDNN autotuning workspaces land there); on
the CPU the peak resident set size of the process during the mode
(``VmHWM`` after resetting it through ``/proc/self/clear_refs``; where that
is not possible, ``ru_maxrss``, the process-lifetime peak).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tools.benchmarking.cli import main  # noqa: E402

if __name__ == '__main__':
    main()
