#!/usr/bin/env bash
# The prepared GPU benchmark: tools/benchmark.py workloads on one CUDA
# device, each line of output one JSON record (see docs/benchmarks.md).
#
#   bash tools/benchmark_gpu.sh [OUT.jsonl]
#   DRY_RUN=1 bash tools/benchmark_gpu.sh      # CPU, tiny sizes, 1 iteration
#
# Default WORKLOADS="pseudo infer_bucket train_x3", about 6 minutes on an
# H100 with 16 cores (torch.compile included), on the bf16 ResNet38d config:
#   pseudo        pseudo labels end to end: 64 JPEGs of 4 VOC-like sizes
#                 (500 wide, 375 to 327 high, interleaved), read grouped by
#                 size (--bucket-by-size), 4 images a batch, CAMs + PNGs,
#                 CRF alphas 4 + 24 in a pool of all cores but two,
#                 overlapped with the inference;
#   infer_bucket  CAM inference with the config's defaults (dynamic-shape
#                 compile, one image a batch) over 96 JPEGs of 6 VOC-like
#                 sizes, grouped by size, CAM + PNG writes, no CRF;
#   train_x3      the fast training step (batch 8, crop 448) in 3 separate
#                 processes, one after the other (process-to-process spread).
# Also available: "train train_loss infer infer4 infer_cg infer_dcg
# infer_dcg_cycle infer4_dcg rw crf pseudo_strict" (the earlier measurements;
# train / infer* with --compare-strict take 1.5-3 minutes each).
# Results are printed and appended to OUT.jsonl (default
# work_dirs/benchmark_gpu.jsonl), each workload followed by a
# {"workload": ..., "elapsed_s": ...} line. Nothing is downloaded (random
# weights); the crf / pseudo workloads need pydensecrf. PYTHON overrides the
# interpreter, CONFIG the SEAM config, LIMIT the seconds one command may run
# (default 240).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
OUT=${1:-work_dirs/benchmark_gpu.jsonl}
LIMIT=${LIMIT:-240}
mkdir -p "$(dirname "$OUT")"

if [[ "${DRY_RUN:-0}" == 1 ]]; then
    # the same commands at toy sizes on the CPU: checks the script runs
    CONFIG=${CONFIG:-configs/seam/seam_tinyconvnet_1xb8-12e_synthvoc-224x224.py}
    DEV=(--device cpu)
    TRAIN=(--batch 2 --crop 32 --iters 1 --warmup 0)
    IMG=(--img-size 40 48 --scales 1.0)
    PSEUDO=(--num-images 4 --batch 2 --workers 2 --iters 1 --warmup 0)
    INFER=(--num-images 4 --batch 1 --iters 1 --warmup 0)
    SHORT=(--iters 1 --warmup 0)
else
    CONFIG=${CONFIG:-configs/seam/seam_resnet38d_1xb8-bf16-8e_voc12aug-448x448.py}
    DEV=(--device cuda)
    TRAIN=(--batch 8 --crop 448 --iters 20 --warmup 5)
    IMG=(--img-size 375 500)
    PSEUDO=(--num-images 64 --batch 4 --iters 2 --warmup 0)
    INFER=(--num-images 96 --batch 1 --iters 2 --warmup 0)
    SHORT=()
    command -v nvidia-smi >/dev/null && nvidia-smi -L || true
    "$PYTHON" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
fi

WORKLOADS=${WORKLOADS:-pseudo infer_bucket train_x3}
want() { [[ " $WORKLOADS " == *" $1 "* ]]; }

bench() {
    timeout "$LIMIT" "$PYTHON" tools/benchmark.py "$CONFIG" "$@" \
        | tee -a "$OUT" || echo "{\"failed\": \"$*\", \"rc\": $?}" | tee -a "$OUT"
}

timed() {  # timed NAME CMD...: run CMD, then print the workload's seconds
    local name=$1 start=$SECONDS
    shift
    "$@"
    echo "{\"workload\": \"$name\", \"elapsed_s\": $((SECONDS - start))}" \
        | tee -a "$OUT"
}

# pseudo labels end to end on a split of 4 sizes, grouped by size
want pseudo && timed pseudo bench --what pseudo "${IMG[@]}" --size-cycle 4 \
    --bucket-by-size "${PSEUDO[@]}" "${DEV[@]}"
# the config's CAM inference (dynamic shapes), 6 sizes grouped by size
want infer_bucket && timed infer_bucket bench --what pseudo --no-crf \
    "${IMG[@]}" --size-cycle 6 --bucket-by-size "${INFER[@]}" "${DEV[@]}"
# the fast (config) training step in 3 processes: the spread between them
if want train_x3; then
    for i in 1 2 3; do
        timed "train_x3_$i" bench --what train "${TRAIN[@]}" "${DEV[@]}"
    done
fi

# the earlier workloads (docs/benchmarks.md, H100 measurements)
want train && timed train bench --compare-strict --what train "${TRAIN[@]}" \
    "${DEV[@]}" --profile 2
want train_loss && timed train_loss bench --what train "${TRAIN[@]}" \
    "${DEV[@]}" --cfg-options model.compile_scope=loss
want infer && timed infer bench --compare-strict --what infer --batch 1 \
    "${IMG[@]}" --iters 20 --warmup 5 "${DEV[@]}"
want infer4 && timed infer4 bench --compare-strict --what infer --batch 4 \
    "${IMG[@]}" --iters 10 --warmup 3 "${DEV[@]}"
want infer_cg && timed infer_cg bench --what infer --batch 1 "${IMG[@]}" \
    --iters 20 --warmup 5 "${DEV[@]}" --cfg-options \
    model.test_cfg.compile_cfg.dynamic=False \
    model.test_cfg.compile_cfg.mode=reduce-overhead \
    model.test_cfg.compile_cfg.options=None
# dynamic shapes + CUDA graphs (one graph recorded per input size): the
# config with test_cfg.compile_cfg.options += triton.cudagraphs (dotted
# option names cannot go through --cfg-options, hence a derived config)
if want infer_dcg || want infer_dcg_cycle || want infer4_dcg; then
    DCG=$(mktemp --suffix=.py)
    cat > "$DCG" <<PY
_base_ = ['$(realpath "$CONFIG")']
model = dict(test_cfg=dict(compile_cfg=dict(_delete_=True, options={
    'triton.coalesce_tiling_analysis': False, 'triton.cudagraphs': True})))
PY
    want infer_dcg && CONFIG=$DCG timed infer_dcg bench --compare-strict \
        --what infer --batch 1 "${IMG[@]}" --iters 20 --warmup 5 "${DEV[@]}"
    want infer_dcg_cycle && CONFIG=$DCG timed infer_dcg_cycle bench \
        --what infer --batch 1 "${IMG[@]}" --iters 18 --warmup 8 \
        --size-cycle 6 "${DEV[@]}"
    want infer4_dcg && CONFIG=$DCG timed infer4_dcg bench --what infer \
        --batch 4 "${IMG[@]}" --iters 8 --warmup 4 "${DEV[@]}"
fi
# random walk (SEAM alpha 6, beta 8, logt 6) from AffinityNet-sized features
want rw && timed rw bench --compare-strict --what rw "${IMG[@]}" --iters 10 \
    --warmup 2 "${DEV[@]}"
# dense CRF on the CPU: one image at a time vs a worker pool over all cores
want crf && timed crf bench --compare-strict --what crf "${IMG[@]}" \
    --batch 16 --iters 2 --warmup 1
# pseudo labels, one size: inference then CRF pool vs overlapped
want pseudo_strict && timed pseudo_strict bench --compare-strict \
    --what pseudo "${IMG[@]}" "${PSEUDO[@]}" "${DEV[@]}"
echo "results appended to $OUT"
