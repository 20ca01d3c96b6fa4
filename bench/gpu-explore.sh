#!/usr/bin/env bash
# Experiments on the GPU machine (one call): GEMM variants, correctness of the kernels touched.
# bash .gpu/enter.sh bash bench/gpu-explore.sh
set -uo pipefail
export VITSTREAM_SHARED=${VITSTREAM_SHARED:-$PWD/.gpu-shared}
export VITSTREAM_CACHE=${OUT:-/tmp/out}/cache
step() { echo; echo "=== $* ($(date +%T))"; }
b32=sgmat-2x4-f4x2-w,sgmat-2x4-f4x2-bk64-w-st1,sgmat-4x2-f2x4-bk64-w-st1,sgmat-2x4-f4x2-bk64-w-bt-st1,sgmat-4x2-f2x4-bk64-w-bt-st1,sgmat-2x2-f4x2-bk64-w-st1,sgmat-2x2-f2x4-bk64-w-st1,sgmat-2x2-bk64-w,sgmat-2x2-bk64-w-st1,sgmat-2x2-bk128-w-st1,sgmat-2x4-f4x2-bk64-w-st1-p2,sgmat-2x4-f4x2-bk64-w-st1-p3
step "gemm batch 32"; node bench/gemm-variants.mjs 32 "$b32" 2>&1 | grep -v '^Warning'
step "gemm batch 8"; node bench/gemm-variants.mjs 8 "$b32" 2>&1 | grep -v '^Warning'
step "gemm batch 1"; node bench/gemm-variants.mjs 1 sgmat-2x2-w,sgmat-2x2-bk64-w,sgmat-2x2-bk64-w-st1,sgmat-2x2-bk128-w-st1,sgmat-2x2-f4x2-bk64-w-st1,sgmat-2x2-w-s2,sgmat-2x2-bk64-w-st1-s2,sgmat-2x2-bk128-w-st1-s2,sgmat-2x2-bk64-w-st1-s4 2>&1 | grep -v '^Warning'
step "tests"; node node_modules/vitest/vitest.mjs run test/engine/gemm.test.ts 2>&1 | grep -v '^Warning' | grep -E '×|Test Files|Tests |FAIL|Error' | head -30
