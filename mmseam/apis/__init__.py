# Copyright (c) mmseam contributors. All rights reserved.
from .cam_io import (atomic_write, cam_to_score_map, load_cam,
                     load_crf_scores, load_label_png, load_metainfo,
                     remove_stale_tmp, save_cam, save_crf_scores,
                     save_label_png, voc_colormap)
from .crf import (CRF_PRESETS, AsyncCRFRefiner, CRFConfig, bg_alpha_scores,
                  crf_inference, crf_output_dirs, crf_with_alpha,
                  read_split_ids, refine_arrays, refine_image, refine_split)

__all__ = [
    'atomic_write', 'remove_stale_tmp', 'save_cam', 'load_cam',
    'cam_to_score_map',
    'save_crf_scores', 'load_crf_scores', 'save_label_png', 'load_label_png',
    'voc_colormap', 'load_metainfo', 'CRFConfig', 'CRF_PRESETS',
    'crf_inference', 'bg_alpha_scores', 'crf_with_alpha', 'crf_output_dirs',
    'read_split_ids', 'refine_image', 'refine_split', 'refine_arrays',
    'AsyncCRFRefiner'
]
from .cam_inference import (cam_output_paths, cams_to_label,  # noqa: E402
                            image_id_of, infer_cams)

__all__ += ['infer_cams', 'cam_output_paths', 'image_id_of', 'cams_to_label']
from .random_walk import (RW_PRESETS, propagate, random_walk,  # noqa: E402
                          random_walk_with_model)

__all__ += ['RW_PRESETS', 'random_walk', 'random_walk_with_model', 'propagate']
from .visualize import (cam_heatmap, colorize_label, load_rgb,  # noqa: E402
                        overlay, save_grid)

__all__ += [
    'cam_heatmap', 'colorize_label', 'load_rgb', 'overlay', 'save_grid'
]
from .classifier_check import (class_average_precision,  # noqa: E402
                               image_label_scores)

__all__ += ['image_label_scores', 'class_average_precision']
from .inference import (CAMInferenceResult, inference_cams,  # noqa: E402
                        render_cams)

__all__ += ['CAMInferenceResult', 'inference_cams', 'render_cams']
