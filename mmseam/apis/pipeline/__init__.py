# Copyright (c) mmseam contributors. All rights reserved.
"""The whole weakly supervised pipeline as a library; ``tools/
run_pipeline.py`` is its command line."""
from .common import alpha_for_threshold, log, parse_opts, run_logged
from .data import split_ann_file
from .pipeline import Pipeline
from .presets import LAST_STEPS, PRESETS, package_file, repo_root
from .recipe import build_recipe, load_pipeline_config
from .report import markdown_table, result_rows, timing_line
from .state import (ResultsFile, check_same_model, check_synthetic_data,
                    model_fingerprint)
from .training import PRETRAIN_MIN_AP

__all__ = [
    'Pipeline', 'PRESETS', 'LAST_STEPS', 'PRETRAIN_MIN_AP',
    'alpha_for_threshold', 'parse_opts', 'log', 'run_logged',
    'package_file', 'repo_root', 'ResultsFile', 'check_same_model',
    'check_synthetic_data', 'model_fingerprint', 'result_rows',
    'markdown_table', 'timing_line', 'build_recipe', 'load_pipeline_config',
    'split_ann_file'
]
