# Copyright (c) mmseam contributors. All rights reserved.
"""The modules behind ``tools/benchmark.py``.

``cli`` (command line) -> ``runner`` (set-up, timing, printing) -> one
module per workload (``train``, ``infer``, ``crf``, ``rw``, ``pseudo``;
each a step builder and a ``plan`` queueing its modes), with ``official``
(the official SEAM step), ``configs`` (strict / eager variants), ``inputs``
(synthetic data), ``env`` (commit, device, timers, peak memory) and
``report`` (the JSON records).
"""
import mmseam  # noqa: F401  (stubs mmcv._ext, registers components)
