#!/usr/bin/env bash
# The 1080p H.264 file the GPU benches decode: <clip> looped and scaled to 1920x1080, <frames> frames,
# libx264 veryfast, no audio. Usage: bash bench/make-1080p.sh <clip> <frames> <out.mp4>
set -euo pipefail
ffmpeg -v error -y -stream_loop -1 -i "$1" -frames:v "$2" -vf scale=1920:1080 -c:v libx264 -preset veryfast -an "$3"
