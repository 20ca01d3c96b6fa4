#!/usr/bin/env bash
# Experiments on the GPU machine (one call): GEMM timing probes (where the K loop's time goes),
# upload paths and pass time, attention timing, correctness of the kernels touched.
# bash .gpu/enter.sh bash bench/gpu-explore.sh
set -uo pipefail
export VITSTREAM_SHARED=${VITSTREAM_SHARED:-$PWD/.gpu-shared}
export VITSTREAM_CACHE=${OUT:-/tmp/out}/cache
step() { echo; echo "=== $* ($(date +%T))"; }
list=""
for t in sgmat-2x4-f4x2-w sgmat-4x2-f2x4-w sgmat-2x2-f4x4-w; do
  for s in "" -p1 -p2 -p3; do list="$list,$t$s"; done
done
step "gemm probes batch 32 (p1 no global loads, p2 no staging, p3 no MMA)"; node bench/gemm-variants.mjs 32 "${list#,}" 2>&1 | grep -v '^Warning'
step "attention"; node bench/attention-timing.mjs vit-b16-384 1,32 2>&1 | grep -v '^Warning'
step "pass timing (defaults, no tuning)"; node bench/pass-timing.mjs vit-b16-384 1,32 2>&1 | grep -v '^Warning'
step "tests"; node node_modules/vitest/vitest.mjs run test/engine/gemm.test.ts test/engine/attention.test.ts test/engine/webgpu-engine.test.ts 2>&1 | grep -v '^Warning' | grep -E '×|Test Files|Tests |FAIL|Error' | head -30
