#!/usr/bin/env bash
# One GPU-machine call for issues #23, #21 and #27 (second of the session): which subgroup-matrix forms Dawn
# accepts, the new GEMM options' GPU tests and same-process A/B (FP16 and INT8, ViT-B/16-384 shapes, batch 32),
# classify of 8 1080p files (NVDEC vs CPU, direct vs infer input) and the GPU-pinning check, with SM clocks
# logged beside. There: bash .gpu/enter.sh bash bench/gpu-session2.sh (carry .gpu .gpu-shared .gpu-layer dist).
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
export VITSTREAM_SHARED=$PWD/.gpu-shared VITSTREAM_CACHE=/tmp/vcache
clip=$(ls .gpu-shared/media/*.mp4 | head -1)
step() { echo; echo "=== $* ($(date +%T))"; }
quiet() { grep -v '^Warning'; }
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu,clocks_event_reasons.active \
  --format=csv -lms 500 >"$out/clocks.csv" 2>&1 &
smi=$!
step "subgroup-matrix forms"; timeout 10 node bench/subgroup-matrix-probe.mjs 2>&1 | quiet
step "FP16 GEMM A/B, batch 32"
timeout 65 node bench/ab-gemm.mjs - 32 sgmat-2x4-f4x4-w-st1,sgmat-2x4-f4x4-w-st1-h,sgmat-2x4-f4x4-w-st1-h-e,sgmat-2x4-f4x4-w-st1-p,sgmat-2x4-f4x2-bk64-w-st1,sgmat-2x4-f4x2-bk64-w-st1-p 1 2>&1 | quiet | tee "$out/ab-fp16.txt"
step "INT8 GEMM A/B, batch 32"
timeout 50 node bench/ab-gemm.mjs - 32 i8mat-2x4-f4x4-st1,i8mat-2x4-f4x4-st1-p,i8mat-2x4-f4x4-st1-e,i8mat-2x4-f4x4-st1-d,i8mat-2x4-f4x2-bk128-st1,i8mat-2x4-f4x2-bk128-st1-p 1 2>&1 | quiet | tee "$out/ab-int8.txt"
step "attention designs (ViT-B/16-384, batch 8 and 32)"
timeout 25 node bench/attention-timing.mjs vit-b16-384 32 attention,attention-dkv,attention-kt64,attention-dkv-kt64,attention-int8,attention-int8-kt64 1 2>&1 | quiet | tee "$out/attention.txt"
step "classify 8 x 1080p H.264 files"; timeout 100 bash bench/classify-files.sh "$clip" 8 1200 2>&1 | quiet | tee "$out/classify.txt"
step "GPU pinning (#27)"; timeout 20 bash bench/gpu-select-check.sh 2>&1 | quiet
step "32 live 1080p30 feeds, --fps 2"; timeout 75 bash bench/live-feeds.sh --seconds 20 --warmup 3 2>&1 | quiet | tee "$out/live.txt"
step "GPU tests: INT8 GEMM options (-p/-e/-d), attention designs, direct batches (FP16 options: ab-gemm checks them against the f32 tile)"
timeout 60 node node_modules/vitest/vitest.mjs run test/engine/int8/gemm-int8.test.ts test/engine/attention.test.ts \
  test/engine/direct-batch.test.ts test/engine/waiting.test.ts test/operators/engineBatches.test.ts >"$out/tests.txt" 2>&1
sed 's/\x1b\[[0-9;]*m//g' "$out/tests.txt" | grep -E '×|✗|FAIL|Test Files|Tests ' | head -30

step "baseline: vitstream bench FP16 vs PyTorch eager FP16, ViT-B/16-384, same call"
timeout 50 node dist/src/cli/main.js bench --model vit-b16-384 --precision fp16 --batch 8,32 2>&1 | quiet | tee "$out/bench384.txt"
timeout 40 python3 bench/pytorch_vit.py --model vit_base_patch16_384 --batch 8,32 --precision fp16 --iterations 30 2>&1 | tail -6 | tee "$out/pytorch384.txt"
kill $smi 2>/dev/null
