#!/usr/bin/env bash
# Before/after on one warm GPU machine with one tuning cache (.gpu-shared/cache, from a
# `vitstream tune` of the split-K build): the before-build (.gpu-shared/before) cannot parse
# split-K names and falls back to sgmat-2x2, the best unsplit tile at those shapes.
mkdir -p "$OUT/cache" && cp .gpu-shared/cache/gemm-tuning.json "$OUT/cache/"
export VITSTREAM_SHARED=$PWD/.gpu-shared VITSTREAM_CACHE=$OUT/cache
E="bash .gpu/enter.sh"
step() { local t=$1 name=$2; shift 2; echo "== $name" >>"$OUT/log.txt"; timeout "$t" "$@" 2>&1 | grep -v ^Warning >>"$OUT/log.txt"; echo "== $name done rc=$?" >>"$OUT/log.txt"; }
for b in 1 8 32; do
  step 40 "profile-before-$b" $E node .gpu-shared/before/bench/profile.mjs vit-b16-384 $b fp16
  step 40 "profile-after-$b" $E node bench/profile.mjs vit-b16-384 $b fp16
done
step 60 bench-before $E node .gpu-shared/before/dist/src/cli/main.js bench --model vit-b16-384 --precision fp16 --batch 1,8,32 --gemm tuned
step 60 bench-after $E node dist/src/cli/main.js bench --model vit-b16-384 --precision fp16 --batch 1,8,32 --gemm tuned
step 40 bench-before-auto $E node .gpu-shared/before/dist/src/cli/main.js bench --model vit-b16-384 --precision fp16 --batch 1,8 --gemm auto
step 40 bench-after-auto $E node dist/src/cli/main.js bench --model vit-b16-384 --precision fp16 --batch 1,8 --gemm auto
grep -v '✓' "$OUT/log.txt" | grep -v '^\s*at \|^\s*$' | cut -c1-160 | tail -170
