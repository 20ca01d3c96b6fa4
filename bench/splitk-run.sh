#!/usr/bin/env bash
# One GPU-machine session for the split-K work: tests, tune, profile and bench after the change,
# then profile and bench of a before-build (.gpu-shared/before, same tuning cache). Every step is
# time-limited and logs to $OUT so that a cut-off run still reports what it finished.
export VITSTREAM_SHARED=$PWD/.gpu-shared VITSTREAM_CACHE=$OUT/cache
E="bash .gpu/enter.sh"
step() { local t=$1 name=$2; shift 2; echo "== $name" >>"$OUT/log.txt"; timeout "$t" "$@" 2>&1 | grep -v ^Warning >>"$OUT/log.txt"; echo "== $name done rc=$?" >>"$OUT/log.txt"; }
step 120 tests $E node node_modules/vitest/vitest.mjs run test/engine/gemm.test.ts test/engine/webgpu-engine.test.ts
grep -E '×|Tests|Error' "$OUT/log.txt" | head -20
step 120 tune-1-8 $E node dist/src/cli/main.js tune --model vit-b16-384 --precision fp16 --batch 1,8
for b in 1 8; do
  step 40 "profile-after-$b" $E node bench/profile.mjs vit-b16-384 $b fp16
  step 40 "profile-before-$b" $E node .gpu-shared/before/bench/profile.mjs vit-b16-384 $b fp16
done
step 90 tune-32 $E node dist/src/cli/main.js tune --model vit-b16-384 --precision fp16 --batch 32
step 60 bench-after $E node dist/src/cli/main.js bench --model vit-b16-384 --precision fp16 --batch 1,8,32 --gemm tuned
step 60 bench-before $E node .gpu-shared/before/dist/src/cli/main.js bench --model vit-b16-384 --precision fp16 --batch 1,8,32 --gemm tuned
step 40 profile-after-32 $E node bench/profile.mjs vit-b16-384 32 fp16
step 40 profile-before-32 $E node .gpu-shared/before/bench/profile.mjs vit-b16-384 32 fp16
cat "$OUT/log.txt" | grep -v '✓' | cut -c1-220 | tail -150
