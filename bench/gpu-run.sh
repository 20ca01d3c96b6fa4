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
step "gpu tests"; node node_modules/vitest/vitest.mjs run test/engine/gemm.test.ts test/engine/attention.test.ts test/engine/webgpu-engine.test.ts 2>&1 | grep -v '^Warning' | tail -25
step attention; node bench/attention-timing.mjs "$model" "$batches" 2>&1 | grep -v '^Warning'
step tune; node dist/src/cli/main.js tune --model "$model" --precision fp16 --batch "$batches" 2>&1 | grep -v '^Warning'
step bench; node dist/src/cli/main.js bench --model "$model" --batch "$batches" --gemm tuned --json 2>&1 > "$out/bench.json" | grep -v '^Warning'
node -e "import('./dist/src/bench/engine.js').then(m=>console.log(m.formatEngineBench(JSON.parse(require('fs').readFileSync('$out/bench.json','utf8')))))" 2>/dev/null || cat "$out/bench.json"
step "cuBLAS / SDPA per-op yardstick"; python3 bench/torch_gemm.py 32 2>&1 | tail -6
step pytorch; python3 bench/pytorch_vit.py --model "${PYTORCH_MODEL:-vit_base_patch16_384}" --batch "$batches" 2>&1 | tail -12
