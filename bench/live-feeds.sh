#!/usr/bin/env bash
# Live feeds at scale (issue #21): N looping H.264 feeds played at their own rate as cameras, served by
# `vitstream serve --fps 2 --hwaccel auto`, measured for D seconds after a warm-up (dist/bench/live-feeds.js
# prints the table; exit code 1 if a feed delivered < 95% of fps x D predictions).
# This script makes the clip (bottles_640x360.mp4 of the shared media, or --source, or ffmpeg's testsrc2, scaled to --height at 30 fps,
# libx264 veryfast, --clip-seconds long, looped by the feeds) and random weights of a preset.
#
# GPU machine (defaults: 32 feeds, 60 s, 1080p, ViT-B/16-224):
#   bash .gpu/enter.sh bash bench/live-feeds.sh
# Here, small (lavapipe, the tiny test model):
#   bash bench/live-feeds.sh --feeds 4 --seconds 20 --height 360 \
#     --model ../shared/fixtures/vit-tiny-test --weights ../shared/fixtures/vit-tiny-test/weights.safetensors
# Other flags (--warmup, --fps, --hwaccel, --min-share, --start-timeout, -- <serve flags>) go to live-feeds.js.
# Input path A/B (serve's default is direct): bash .gpu/enter.sh bash bench/live-feeds.sh -- --input-path infer
set -euo pipefail
feeds=32 seconds=60 height=1080 clip_seconds=20 model=vit-b16-224 weights='' source='' clip=''
work=${LIVE_DIR:-/tmp/vitstream-live}
rest=()
while [ $# -gt 0 ]; do
  case $1 in
    --feeds) feeds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --height) height=$2; shift 2 ;;
    --clip-seconds) clip_seconds=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --weights) weights=$2; shift 2 ;;
    --source) source=$2; shift 2 ;;
    --clip) clip=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --) rest+=("$@"); break ;;  # serve's own flags, untouched
    *) rest+=("$1"); shift ;;
  esac
done
case $height in ''|*[!0-9]*) echo "live-feeds.sh: --height: expected a number of pixels, got '$height'" >&2; exit 2 ;; esac
case $clip_seconds in ''|*[!0-9]*) echo "live-feeds.sh: --clip-seconds: expected whole seconds, got '$clip_seconds'" >&2; exit 2 ;; esac
[ -f dist/bench/live-feeds.js ] || { echo "live-feeds.sh: dist/bench/live-feeds.js missing: build first (npx tsc -p tsconfig.json)" >&2; exit 2; }
mkdir -p "$work"
t0=$(date +%s.%N)
if [ -z "$clip" ]; then
  if [ -n "$source" ]; then
    [ -f "$source" ] || { echo "live-feeds.sh: --source: no such file: $source" >&2; exit 2; }
  else
    # The shared footage where this tree sees it (beside a worktree, or carried to the GPU machine).
    for s in ../shared/media/bottles_640x360.mp4 shared/media/bottles_640x360.mp4 .gpu-shared/media/bottles_640x360.mp4; do
      [ -f "$s" ] && { source=$s; break; }
    done
  fi
  width=$(( (height * 16 / 9 + 1) / 2 * 2 ))
  name=$(basename "${source:-testsrc2}"); name=${name%.*}
  clip=$work/clip-${height}p30-$(printf %s "$name" | tr -c 'A-Za-z0-9_.-' _).mp4
  # Made once per size: a loop of a short clip is what a camera stand-in needs, and it keeps the run short.
  if [ ! -s "$clip" ]; then
    if [ -n "$source" ]; then input=(-stream_loop -1 -i "$source"); else input=(-f lavfi -i "testsrc2=size=${width}x$height:rate=30"); fi
    ffmpeg -v error -y "${input[@]}" -t "$clip_seconds" -vf "scale=$width:$height,fps=30" \
      -c:v libx264 -preset veryfast -pix_fmt yuv420p -an "$clip.part.mp4"
    mv "$clip.part.mp4" "$clip"
  fi
fi
if [ -z "$weights" ] && [ ! -d "$model" ] && [ ! -f "$model" ]; then
  weights=$work/$model.safetensors
  [ -s "$weights" ] || node bench/random-weights.mjs "$model" "$weights"
fi
echo "live-feeds.sh: clip $clip ($(ffprobe -v error -select_streams v -show_entries stream=width,height,r_frame_rate,codec_name -of csv=p=0 "$clip")), weights ${weights:-from the model folder}; ready after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s" >&2
exec node dist/bench/live-feeds.js --clip "$clip" --feeds "$feeds" --seconds "$seconds" --model "$model" \
  ${weights:+--weights "$weights"} --work "$work" "${rest[@]}"
