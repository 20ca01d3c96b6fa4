#!/usr/bin/env bash
# Experiments on the GPU machine (one call): INT8 tiles (vec4 workgroup tiles, vec4 epilogue),
# INT8 kernel tests, batch-1 latency with the staging upload.
# bash .gpu/enter.sh bash bench/gpu-explore.sh
set -uo pipefail
export VITSTREAM_SHARED=${VITSTREAM_SHARED:-$PWD/.gpu-shared}
export VITSTREAM_CACHE=${OUT:-/tmp/out}/cache
step() { echo; echo "=== $* ($(date +%T))"; }
step "int8 tests"; node node_modules/vitest/vitest.mjs run test/engine/int8/gemm-int8.test.ts test/engine/webgpu-engine.test.ts 2>&1 | grep -v '^Warning' | grep -E '×|Test Files|Tests |FAIL|Error' | head -30
step "int8 tiles, batch 32"
node bench/gemm-variants.mjs 32 sgmat-2x4-f4x2-bk64-w-st1,i8mat-2x4-f4x2-bk128-st1,i8mat-2x4-f4x2-bk128-st1-v,i8mat-4x2-f2x4-bk128-st1-v,i8mat-2x2-f2x2-bk128-st1-v,i8mat-2x2-f2x2-v 2>&1 | grep -v '^Warning'
step "pass timing (defaults)"; node bench/pass-timing.mjs vit-b16-384 1,8,32 2>&1 | grep -v '^Warning'
