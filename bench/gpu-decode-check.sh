#!/usr/bin/env bash
# On the GPU machine (run with carry [".gpu", "dist"] after `pack.sh --ffmpeg-nvdec` and `npm run build`):
# checks the NVDEC decode paths end to end and prints the tables issue #21 asks for.
#   bash bench/gpu-decode-check.sh [frames]
set -uo pipefail
frames=${1:-600}
run() { echo "\$ $*" >&2; bash .gpu/enter.sh "$@"; }
tmp=$(mktemp -d)
run ffmpeg -hide_banner -hwaccels | tr '\n' ' '; echo
# 1080p H.264 (testsrc2: sharp edges, the hardest case for scaler differences), and a 4:4:4 one NVDEC refuses.
run ffmpeg -hide_banner -loglevel error -f lavfi -i "testsrc2=s=1920x1080:r=30" -frames:v "$frames" \
  -c:v libx264 -preset veryfast -pix_fmt yuv420p "$tmp/1080p.mp4"
run ffmpeg -hide_banner -loglevel error -f lavfi -i "testsrc2=s=640x360:r=30" -frames:v 30 \
  -c:v libx264 -preset veryfast -pix_fmt yuv444p "$tmp/444.mp4"
run node dist/src/cli/main.js info 2>&1 | grep -i decode
run node dist/bench/decode-compare.js "$tmp/1080p.mp4" 224 60
# auto on a stream NVDEC cannot take: one warning, every frame on the CPU.
run node --input-type=module -e "
import { lastValueFrom, toArray } from 'rxjs';
import { decodeFrames } from './dist/src/video/decodeFrames.js';
const ev = [];
const fs = await lastValueFrom(decodeFrames('$tmp/444.mp4', { size: 224, hwaccel: 'auto', pixelFormat: 'nv12',
  onEvent: (e) => e.type !== 'stats' && ev.push(e.type === 'warning' ? 'warning: ' + e.message : e.type) }).pipe(toArray()));
console.log('4:4:4 under auto:', fs.length, 'frames;', ev.join(' / '));
const err = await lastValueFrom(decodeFrames('$tmp/444.mp4', { size: 224, hwaccel: 'cuda' })).catch((e) => e);
console.log('4:4:4 under cuda:', err.message ?? err);
"
run node dist/src/cli/main.js bench decode "$tmp/1080p.mp4" --frames "$frames" --hwaccel none,cuda \
  --parallel 1,4,8,16 --pixel-format nv12
run node dist/src/cli/main.js bench decode "$tmp/1080p.mp4" --frames "$frames" --hwaccel cuda \
  --parallel 8 --pixel-format rgb
rm -rf "$tmp"
