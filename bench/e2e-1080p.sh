#!/usr/bin/env bash
# End-to-end rate on the GPU machine: `vitstream classify` on a 1080p H.264 file versus
# decode alone (`vitstream bench decode`) and the engine alone (`vitstream bench`), same model.
# Decoding speed on the GPU machine varies a lot from run to run, so decode-only and classify runs
# alternate over rounds; compare each round's pair.
# Usage: bash .gpu/enter.sh bash bench/e2e-1080p.sh <clip.mp4> [model] [frames] [rounds]
set -uo pipefail
clip=$1; model=${2:-vit-b16-224}; frames=${3:-1800}; rounds=${4:-3}
# Outside $OUT: the 1080p clip is too large to bring back.
work=${E2E_DIR:-/tmp/vitstream-e2e}; mkdir -p "$work"
ffmpeg -v error -y -stream_loop -1 -i "$clip" -frames:v "$frames" -vf scale=1920:1080 -c:v libx264 -preset veryfast -an "$work/1080p.mp4"
node bench/random-weights.mjs "$model" "$work/w.safetensors"
echo "=== engine only"; node dist/src/cli/main.js bench --model "$model" --precision fp16 --batch 16,32 --iterations 20 --gemm tuned 2>&1 | grep -v ^Warning | head -9
for r in $(seq "$rounds"); do
  echo "=== round $r: decode only"; node dist/src/cli/main.js bench decode "$work/1080p.mp4" --frames "$frames" 2>&1 | grep -v ^Warning
  echo "=== round $r: classify (decode + engine + JSONL)"
  node dist/src/cli/main.js classify "$work/1080p.mp4" --model "$model" --weights "$work/w.safetensors" --max-batch 32 --out "$work/p.jsonl" 2>&1 | grep -v ^Warning | tail -2
done
wc -l "$work/p.jsonl"
