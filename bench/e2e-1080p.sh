#!/usr/bin/env bash
# End-to-end rate on the GPU machine: `vitstream classify` on a 1080p H.264 file versus
# decode alone (`vitstream bench decode`) and the engine alone (`vitstream bench`), same model.
# Decoding speed on the GPU machine varies a lot from run to run (an H200 machine, 2026-12-02: bare
# ffmpeg 531-859 frames/s over four 1800-frame runs), so decode-only and classify runs alternate over
# rounds, each round's pair is compared, and the median of the rounds' ratios is printed last; runs
# of several seconds (the default 7200 frames: ~10 s of decoding there) average out more of it.
# Usage: bash .gpu/enter.sh bash bench/e2e-1080p.sh <clip.mp4> [model] [frames] [rounds]
set -uo pipefail
clip=$1; model=${2:-vit-b16-224}; frames=${3:-7200}; rounds=${4:-5}
# Outside $OUT: the 1080p clip is too large to bring back.
work=${E2E_DIR:-/tmp/vitstream-e2e}; mkdir -p "$work"
bash bench/make-1080p.sh "$clip" "$frames" "$work/1080p.mp4"
node bench/random-weights.mjs "$model" "$work/w.safetensors"
echo "=== engine only"; node dist/src/cli/main.js bench --model "$model" --precision fp16 --batch 16,32 --iterations 20 --gemm tuned 2>&1 | grep -v ^Warning | head -9
ratios=()
for r in $(seq "$rounds"); do
  echo "=== round $r: decode only"
  dec=$(node dist/src/cli/main.js bench decode "$work/1080p.mp4" --frames "$frames" 2>&1 | grep -v ^Warning)
  echo "$dec"
  echo "=== round $r: classify (decode + engine + JSONL)"
  cls=$(node dist/src/cli/main.js classify "$work/1080p.mp4" --model "$model" --weights "$work/w.safetensors" --max-batch 32 --out "$work/p.jsonl" 2>&1 | grep -v ^Warning | tail -2)
  echo "$cls"
  d=$(echo "$dec" | awk '/^decodeFrames \(/ {print $NF}')
  c=$(echo "$cls" | sed -n 's/.*(\([0-9.]*\) frames\/s).*/\1/p')
  if [ -n "$d" ] && [ -n "$c" ]; then
    ratio=$(awk -v c="$c" -v d="$d" 'BEGIN {printf "%.1f", 100 * c / d}')
    ratios+=("$ratio")
    echo "round $r: classify $c / decodeFrames $d frames/s = $ratio%"
  fi
done
wc -l "$work/p.jsonl"
[ ${#ratios[@]} -gt 0 ] && printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR] = $1} END {printf "classify / decode-only, median of %d rounds: %s%% (rounds: %s%% .. %s%%)\n", NR, a[int((NR + 1) / 2)], a[1], a[NR]}'
