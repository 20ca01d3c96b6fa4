#!/usr/bin/env bash
# Issue #21 item 4 on the GPU machine: classify of eight 1080p H.264 files (1800 frames each by default,
# ViT-B/16-224 FP16, random weights, batch 32, JSONL out) with frames written straight into the
# engine's staging memory (--input-path direct) against a JS batch buffer copied by infer()
# (--input-path infer), CPU decode and NVDEC, interleaved, two rounds; the engine-only rate first.
# Needs dist/ built and ffmpeg (with NVDEC for cuda) on PATH. Usage: bash bench/input-path.sh [clip]
# Smoke test elsewhere (small model, CPU decode only, 60 frames):
#   FRAMES=60 HWACCELS=none MODEL_ARGS="--model DIR --weights DIR/model.safetensors" bash bench/input-path.sh clip.mp4
set -uo pipefail
clip=${1:-$(ls "${VITSTREAM_SHARED:-../shared}"/media/*.mp4 | head -1)}
frames=${FRAMES:-1800}
w=/tmp/input-path-$frames; mkdir -p "$w"
[ -f "$w/1080p.mp4" ] || bash bench/make-1080p.sh "$clip" "$frames" "$w/1080p.mp4"
for i in 1 2 3 4 5 6 7 8; do ln -f "$w/1080p.mp4" "$w/f$i.mp4"; done
if [ -z "${MODEL_ARGS:-}" ]; then
  [ -f "$w/w.safetensors" ] || node bench/random-weights.mjs vit-b16-224 "$w/w.safetensors" >/dev/null
  MODEL_ARGS="--model vit-b16-224 --weights $w/w.safetensors --precision fp16 --max-batch 32"
  timeout 90 node dist/src/cli/main.js bench engine --model vit-b16-224 --precision fp16 --batch 32 --iterations 20 \
    --gemm auto 2>&1 | grep -E '^\| fp16 +\| +32 ' | head -1
fi
echo '| hwaccel | input path | round | frames/s | lines | node+ffmpeg CPU s |'
echo '|---|---|---|---|---|---|'
for round in 1 2; do
  for hw in ${HWACCELS:-none cuda}; do
    for path in infer direct; do
      # shellcheck disable=SC2086 # MODEL_ARGS is several words
      r=$( { TIMEFORMAT='%U %S'; time timeout 150 node dist/src/cli/main.js classify "$w"/f*.mp4 $MODEL_ARGS \
        --hwaccel "$hw" --input-path $path --out "$w/p.jsonl" >"$w/log.txt" 2>&1; } 2>&1 )
      fps=$(grep -oE '\(([0-9.]+) frames/s\)' "$w/log.txt" | tail -1 | tr -d '()' | cut -d' ' -f1)
      cpu=$(echo "$r" | awk '{printf "%.1f", $1+$2}')
      echo "| $hw | $path | $round | ${fps:-failed: $(grep -v '^Warning' "$w/log.txt" | tail -1)} | $(wc -l <"$w/p.jsonl") | $cpu |"
    done
  done
done
