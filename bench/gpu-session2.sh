#!/usr/bin/env bash
# One GPU-machine call for issues #23 and #21 (ready since 2026-12-06; no machine could be started for it since): whole-model A/B of the kernel designs (bench/policy-ab.mjs,
# FP16 and INT8 mode 2) beside PyTorch eager FP16 in the same call, classify of 8 1080p files (NVDEC vs CPU,
# direct vs infer input), 32 live feeds, per-GEMM A/B and the GPU tests of the new options; SM clocks logged.
# There: bash .gpu/enter.sh bash bench/gpu-session2.sh (carry .gpu .gpu-shared .gpu-layer dist). Each step is bounded.
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
export VITSTREAM_SHARED=$PWD/.gpu-shared VITSTREAM_CACHE=/tmp/vcache
clip=$(ls .gpu-shared/media/*.mp4 | head -1)
step() { echo; echo "=== $* ($(date +%T))"; }
# Steps after the first few run only while BUDGET seconds (default 560) leave room for their limit.
t0=$(date +%s); budget=${BUDGET:-560}
room() { [ $(( $(date +%s) - t0 + $1 )) -le "$budget" ] || { echo "(skipped: $1 s would pass BUDGET=$budget)"; return 1; }; }
quiet() { grep -v '^Warning'; }
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu,clocks_event_reasons.active \
  --format=csv -lms 500 >"$out/clocks.csv" 2>&1 &
smi=$!
step "subgroup-matrix forms"; timeout 10 node bench/subgroup-matrix-probe.mjs 2>&1 | quiet | tail -8
step "PyTorch eager FP16, ViT-B/16-384"
timeout 45 python3 bench/pytorch_vit.py --model vit_base_patch16_384 --batch 1,8,16,32 --precision fp16 --iterations 30 2>&1 | grep '^pytorch' | tee "$out/pytorch384.txt"
step "whole model A/B, ViT-B/16-384 FP16 (ratios to PyTorch from the step before)"
PYTORCH=$out/pytorch384.txt timeout 75 node bench/policy-ab.mjs vit-b16-384 1,8,16,32 fp16 base,e,p,e+p,h,dkv,kt64,dkv+kt64 3 2>&1 | quiet | tee "$out/policy-fp16-384.txt"
step "whole model A/B, ViT-B/16-384 INT8 mode 2"
PYTORCH=$out/pytorch384.txt timeout 75 node bench/policy-ab.mjs vit-b16-384 1,8,16,32 int8-m2 base,p,e,d,p+e,p+d,kt64 3 2>&1 | quiet | tee "$out/policy-int8-384.txt"
step "classify 8 x 1080p H.264 files"; room 120 && timeout 120 bash bench/classify-files.sh "$clip" 8 1200 2>&1 | quiet | tee "$out/classify.txt"
step "32 live 1080p30 feeds, --fps 2"; room 70 && timeout 70 bash bench/live-feeds.sh --seconds 20 --warmup 3 2>&1 | quiet | tee "$out/live.txt"
step "whole model A/B, ViT-B/16-224 FP16, and PyTorch"
room 75 && {
timeout 30 python3 bench/pytorch_vit.py --model vit_base_patch16_224 --batch 8,16,32 --precision fp16 --iterations 30 2>&1 | grep '^pytorch' | tee "$out/pytorch224.txt"
PYTORCH=$out/pytorch224.txt timeout 45 node bench/policy-ab.mjs vit-b16-224 8,16,32 fp16 base,e,p,e+p,dkv 3 2>&1 | quiet | tee "$out/policy-fp16-224.txt"; }
step "per-GEMM FP16 A/B with accuracy, batch 32"
room 45 &&
timeout 45 node bench/ab-gemm.mjs - 32 sgmat-2x4-f4x4-w-st1,sgmat-2x4-f4x4-w-st1-h,sgmat-2x4-f4x4-w-st1-e,sgmat-2x4-f4x4-w-st1-p,sgmat-2x4-f4x2-bk64-w-st1,sgmat-2x4-f4x2-bk64-w-st1-e 1 2>&1 | quiet | tee "$out/ab-fp16.txt"
step "what a batch costs besides kernels (#23 item 7), ViT-B/16-384 FP16"
room 20 &&
timeout 20 node bench/pass-timing.mjs vit-b16-384 32 fp16 2>&1 | quiet | tee "$out/pass-timing.txt"
step "GPU tests: INT8 GEMM options, attention designs, direct batches"
room 45 && {
timeout 45 node node_modules/vitest/vitest.mjs run test/engine/int8/gemm-int8.test.ts test/engine/attention.test.ts \
  test/engine/direct-batch.test.ts test/engine/waiting.test.ts test/operators/engineBatches.test.ts >"$out/tests.txt" 2>&1
sed 's/\x1b\[[0-9;]*m//g' "$out/tests.txt" | grep -E '×|✗|FAIL|Test Files|Tests ' | head -30; }
step "per-GEMM INT8 A/B, batch 32"
room 45 &&
timeout 45 node bench/ab-gemm.mjs - 32 i8mat-2x4-f4x4-st1,i8mat-2x4-f4x4-st1-p,i8mat-2x4-f4x4-st1-e,i8mat-2x4-f4x4-st1-d,i8mat-2x4-f4x2-bk128-st1,i8mat-2x4-f4x2-bk128-st1-p 1 2>&1 | quiet | tee "$out/ab-int8.txt"
step "attention kernels alone (ViT-B/16-384, batch 32)"
room 25 &&
timeout 25 node bench/attention-timing.mjs vit-b16-384 32 attention,attention-dkv,attention-kt64,attention-dkv-kt64,attention-int8,attention-int8-kt64 1 2>&1 | quiet | tee "$out/attention.txt"
step "GPU pinning through the device-select layer (#27)"; room 20 && timeout 20 bash bench/gpu-select-check.sh 2>&1 | quiet
kill $smi 2>/dev/null
