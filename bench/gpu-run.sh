#!/usr/bin/env bash
# One full GPU-machine session (run through ../shared/gpu/pack.sh --dev and .gpu/enter.sh):
# adapter info, the [gpu]-tagged tests, attention and GEMM timings, the engine table and PyTorch's baseline.
# Usage on the GPU machine: bash .gpu/enter.sh bash bench/gpu-run.sh [model] [batches]
set -uo pipefail
model=${1:-vit-b16-384}
batches=${2:-1,8,16,32}
out=${OUT:-/tmp/out}
mkdir -p "$out"
export VITSTREAM_CACHE=$out/cache
export VITSTREAM_SHARED=${VITSTREAM_SHARED:-$PWD/.gpu-shared}
step() { echo; echo "=== $* ($(date +%T))"; }
step info; node dist/src/cli/main.js info 2>&1 | grep -v '^Warning'
# The whole vitest log goes to $out/tests.txt: the device tool returns only the tail of stdout.
step "gpu tests"; node node_modules/vitest/vitest.mjs run test/engine/gemm.test.ts test/engine/attention.test.ts test/engine/layernorm.test.ts test/engine/waiting.test.ts test/engine/webgpu-engine.test.ts test/engine/recovering-engine.test.ts test/engine/int8/gemm-int8.test.ts test/engine/int8/quantize.test.ts test/engine/int8/int8-engine.test.ts test/engine/int8/calibrate.test.ts -t '^(?!.*video files)' > "$out/tests.txt" 2>&1
sed 's/\x1b\[[0-9;]*m//g' "$out/tests.txt" | grep -E '×|Test Files|Tests |FAIL|Error' | tail -40
step attention; node bench/attention-timing.mjs "$model" "$batches" 2>&1 | grep -v '^Warning'
step tune; node dist/src/cli/main.js tune --model "$model" --precision fp16 --batch "$batches" 2>&1 | grep -v '^Warning'
# INT8 columns when calibration scales for these random weights were carried (SCALES=file).
precisions=fp32,fp16; scales=()
if [ -n "${SCALES:-}" ] && [ -f "$SCALES" ]; then precisions=fp32,fp16,int8; scales=(--scales "$SCALES"); fi
step bench; node dist/src/cli/main.js bench --model "$model" --precision "$precisions" "${scales[@]}" --batch "$batches" --gemm tuned 2>&1 | grep -v '^Warning' | tee "$out/bench.txt"
step "pass timing (tuned)"; node bench/pass-timing.mjs "$model" 1,32 2>&1 | grep -v '^Warning'
step "in-pass profiles (tuned)"; for b in 1 32; do node bench/pass-profile.mjs "$model" $b fp16 2>&1 | grep -v '^Warning'; done
step "dispatch overhead"; node bench/dispatch-overhead.mjs 200 2>&1 | grep -v '^Warning'
step "cuBLAS / SDPA per-op yardstick"; python3 bench/torch_gemm.py 32 2>&1 | tail -6
step pytorch; python3 bench/pytorch_vit.py --model "${PYTORCH_MODEL:-vit_base_patch16_384}" --batch "$batches" 2>&1 | tail -12
