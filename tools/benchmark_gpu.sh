#!/usr/bin/env bash
# The prepared GPU benchmark: every tools/benchmark.py workload with
# --compare-strict on one CUDA device, on the shapes of the reference
# figures in docs/benchmarks.md (H100: stage-1 train batch 8 crop 448,
# CAM inference 4 scales x flip on 500x375, CRF, random walk).
#
#   bash tools/benchmark_gpu.sh [OUT.jsonl]
#
# Prints one JSON line per result (strict / fast / official, then the
# ratios) and appends them to OUT.jsonl (default
# work_dirs/benchmark_gpu.jsonl). About 9 minutes on an H100 with 16
# cores (torch.compile of the fast modes takes 1-2 minutes per workload);
# the crf and pseudo workloads need pydensecrf. WORKLOADS picks a subset
# (default: "train train_loss infer infer4 infer_cg infer_dcg infer_dcg_cycle
# rw crf pseudo"; "infer4_dcg" is also available). Nothing is
# downloaded (random weights). PYTHON overrides the interpreter,
# CONFIG the SEAM config (default: the bf16 fast config; --compare-strict
# derives the strict fp32 mode from it).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
CONFIG=${CONFIG:-configs/seam/seam_resnet38d_1xb8-bf16-8e_voc12aug-448x448.py}
OUT=${1:-work_dirs/benchmark_gpu.jsonl}
mkdir -p "$(dirname "$OUT")"

command -v nvidia-smi >/dev/null && nvidia-smi -L || true
"$PYTHON" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'

WORKLOADS=${WORKLOADS:-train train_loss infer infer4 infer_cg infer_dcg infer_dcg_cycle rw crf pseudo}
want() { [[ " $WORKLOADS " == *" $1 "* ]]; }

bench() {
    "$PYTHON" tools/benchmark.py "$CONFIG" "$@" | tee -a "$OUT"
}

# stage-1 training step (19.5 TFLOP a step on ResNet38d at this shape):
# strict, fast (compiled), fast_eager, official, each with a kernel profile
want train && bench --compare-strict --what train --batch 8 --crop 448 \
    --iters 20 --warmup 5 --device cuda --profile 2
# the same step with the losses compiled together with the network
want train_loss && bench --what train --batch 8 --crop 448 --iters 20 \
    --warmup 5 --device cuda --cfg-options model.compile_scope=loss
# 8-pass CAM inference (4 scales x flip), 500x375 image, batch 1 a pass
want infer && bench --compare-strict --what infer --batch 1 \
    --img-size 375 500 --iters 20 --warmup 5 --device cuda
# the same with 4 same-size images a batch (infer_cams --batch-size 4)
want infer4 && bench --compare-strict --what infer --batch 4 \
    --img-size 375 500 --iters 10 --warmup 3 --device cuda
# fixed-size inference with CUDA graphs (static shapes)
want infer_cg && bench --what infer --batch 1 --img-size 375 500 \
    --iters 20 --warmup 5 --device cuda --cfg-options \
    model.test_cfg.compile_cfg.dynamic=False \
    model.test_cfg.compile_cfg.mode=reduce-overhead \
    model.test_cfg.compile_cfg.options=None
# dynamic shapes + CUDA graphs (one graph recorded per input size): the
# config with test_cfg.compile_cfg.options += triton.cudagraphs (dotted
# option names cannot go through --cfg-options, hence a derived config)
DCG=$(mktemp --suffix=.py)
cat > "$DCG" <<PY
_base_ = ['$(realpath "$CONFIG")']
model = dict(test_cfg=dict(compile_cfg=dict(_delete_=True, options={
    'triton.coalesce_tiling_analysis': False, 'triton.cudagraphs': True})))
PY
want infer_dcg && CONFIG=$DCG bench --compare-strict --what infer --batch 1 \
    --img-size 375 500 --iters 20 --warmup 5 --device cuda
# the same over six VOC-like image sizes (heights 375 to 295), one a step
want infer_dcg_cycle && CONFIG=$DCG bench --what infer --batch 1 \
    --img-size 375 500 --iters 18 --warmup 8 --size-cycle 6 --device cuda
# 4 same-size images a batch with dynamic shapes + CUDA graphs
want infer4_dcg && CONFIG=$DCG bench --what infer --batch 4 \
    --img-size 375 500 --iters 8 --warmup 4 --device cuda
# random walk (SEAM alpha 6, beta 8, logt 6) from AffinityNet-sized features
want rw && bench --compare-strict --what rw --img-size 375 500 --iters 10 \
    --warmup 2 --device cuda
# dense CRF on the CPU: one image at a time vs a worker pool over all cores
want crf && bench --compare-strict --what crf --img-size 375 500 \
    --batch 16 --iters 2 --warmup 1
# pseudo labels for a split end to end (JPEG decode, 4 scales x flip CAMs,
# CAM/PNG writes, CRF alphas 4 + 24): inference then CRF pool, vs overlapped
want pseudo && bench --compare-strict --what pseudo --img-size 375 500 \
    --num-images 64 --batch 4 --iters 2 --warmup 0 --device cuda
echo "results appended to $OUT"
