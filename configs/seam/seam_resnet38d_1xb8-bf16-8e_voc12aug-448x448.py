# SEAM, official recipe, fast GPU variant: the same model, losses, data and
# schedule as seam_resnet38d_1xb8-8e_voc12aug-448x448.py (the strict-parity fp32
# recipe, the one the parity tests check), run the fast way:
#
# * bf16 autocast for training (MMEngine AmpOptimWrapper, here its NaN-guard
#   subclass) with loss scaling off: bf16 has fp32's exponent range, so the
#   GradScaler (and its per-step `.item()` inf check) is not needed. The
#   network runs in bf16; the CAM maps leave it in fp32, so every loss
#   reduction, the PCM column sums and the CAM sums are fp32.
# * bf16 autocast for CAM inference (model.test_cfg.amp_dtype), used by
#   tools/test.py, tools/infer_cams.py and the PseudoLabelHook.
# * channels_last weights and inputs (tensor-core friendly convolutions).
# * torch.compile of the network (backbone, CAM head, PCM). Training: one
#   static graph for each of the two view sizes (dynamic=False). Inference:
#   torch's default (static for the first image size, then one
#   dynamic-shape graph, since image sizes vary), with Inductor's
#   `triton.coalesce_tiling_analysis` off: torch 2.11's Inductor fails an
#   assertion in that analysis on this network's dynamic-shape graph. The
#   first steps compile (one to two minutes); parameter names and
#   checkpoints are those of the eager model. For inputs of one fixed size,
#   `model.test_cfg.compile_cfg=dict(dynamic=False, mode='reduce-overhead')`
#   (CUDA graphs; a whole new dict: torch.compile takes `mode` or `options`,
#   not both) is faster still: 35.98 vs 29.6 img/s at 375 x 500 on an H100
#   (docs/benchmarks.md, runs 3 and 5).
# * data loading that keeps the GPU busy: 8 persistent workers, pinned
#   memory.
#
# The maths differ from the strict recipe only by bf16 rounding. Needs a GPU
# (AmpOptimWrapper refuses to build without one). Strict parity from this
# file: --cfg-options model.channels_last=False model.test_cfg.amp_dtype=None
# model.compile_cfg=None model.test_cfg.compile_cfg=None
# optim_wrapper.type=NonFiniteGuardOptimWrapper (and drop `dtype` and
# `loss_scale`), i.e. simply use
# seam_resnet38d_1xb8-8e_voc12aug-448x448.py.
# Speed: docs/benchmarks.md (tools/benchmark.py --compare-strict).
_base_ = ['./seam_resnet38d_1xb8-8e_voc12aug-448x448.py']
model = dict(
    channels_last=True,
    compile_cfg=dict(dynamic=False),
    test_cfg=dict(
        amp_dtype='bfloat16',
        compile_cfg=dict(
            options={'triton.coalesce_tiling_analysis': False})))
optim_wrapper = dict(
    type='NonFiniteGuardAmpOptimWrapper',
    dtype='bfloat16',
    loss_scale=dict(enabled=False))
train_dataloader = dict(num_workers=8, persistent_workers=True,
                        pin_memory=True)
val_dataloader = dict(pin_memory=True)
test_dataloader = val_dataloader
