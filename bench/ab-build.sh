#!/usr/bin/env bash
# The engine table of two builds in one process lifetime of the machine, alternated (A B A B), so that a
# refactor's "same speed" claim compares like with like. Usage (GPU machine, through .gpu/enter.sh):
#   bash bench/ab-build.sh BASELINE_ROOT [vitstream bench engine flags…]
# BASELINE_ROOT holds an older build (dist/, kernels/, config/, data/, package.json); the current one is ./dist.
set -uo pipefail
base=${1:?usage: ab-build.sh BASELINE_ROOT [bench flags]}; shift
for round in 1 2; do
  for side in baseline current; do
    root=.; [ "$side" = baseline ] && root=$base
    echo "=== $side, round $round ($(date +%T))"
    node "$root/dist/src/cli/main.js" bench engine "$@" 2>&1 | grep -v '^Warning'
  done
done
