#!/usr/bin/env bash
# One GPU-machine call for issues #21 and #27: the YUV/direct-batch GPU tests, the NVDEC decode checks and
# tables (bench/gpu-decode-check.sh), classify of eight 1080p H.264 files on CPU decode vs NVDEC against the
# engine-only rate, the input-copy bench, and a file job through 1 and 2 workers sharing the GPU.
# Here: npm run build; pack .gpu (pack.sh --ffmpeg-nvdec), .gpu-shared (fixtures/vit-tiny-test and one clip
# under media/), .gpu-nats (Debian's nats-server .deb). There: bash .gpu/enter.sh bash bench/gpu-session.sh
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
export VITSTREAM_SHARED=$PWD/.gpu-shared VITSTREAM_CACHE=/tmp/vcache
clip=$(ls .gpu-shared/media/*.mp4 | head -1)
step() { echo; echo "=== $* ($(date +%T))"; }
cli() { node dist/src/cli/main.js "$@" 2>&1 | grep -v '^Warning'; }
for d in .gpu-nats/*.deb; do [ -f "$d" ] && dpkg -x "$d" /tmp/nats && export PATH=/tmp/nats/usr/sbin:$PATH; done
step "GPU tests: YUV input, direct batches"
timeout 150 node node_modules/vitest/vitest.mjs run test/engine/yuv.test.ts test/engine/direct-batch.test.ts \
  test/engine/int8/int8-yuv.test.ts >"$out/tests.txt" 2>&1
sed 's/\x1b\[[0-9;]*m//g' "$out/tests.txt" | grep -E '×|Test Files|Tests ' | tail -12
step "classify 1080p"
w=/tmp/c1080; mkdir -p "$w"
bash bench/make-1080p.sh "$clip" 1800 "$w/1080p.mp4"
for i in 1 2 3 4 5 6 7 8; do ln -f "$w/1080p.mp4" "$w/f$i.mp4"; done
node bench/random-weights.mjs vit-b16-224 "$w/w.safetensors" >/dev/null
timeout 90 node dist/src/cli/main.js bench engine --model vit-b16-224 --precision fp16 --batch 32 --iterations 20 --gemm auto 2>&1 | grep -E '^\| fp16 +\| +32 ' | head -1
for hw in none cuda; do
  for files in 1 8; do
    set -- "$w"/f*.mp4; [ "$files" = 1 ] && set -- "$w/f1.mp4"
    r=$(timeout 120 node dist/src/cli/main.js classify "$@" --model vit-b16-224 --weights "$w/w.safetensors" --precision fp16 \
      --max-batch 32 --hwaccel $hw --out "$w/p.jsonl" 2>&1 | grep -E 'frames in .* s \(' | tail -1)
    echo "classify --hwaccel $hw, $files file(s) of 1800 frames: $r; lines written $(wc -l <"$w/p.jsonl")"
  done
done
step "NVDEC decode checks"; timeout 120 bash bench/gpu-decode-check.sh 600 2>&1 | grep -v '^Warning' | tee "$out/decode.txt"
step "file job through 1 and 2 workers on this GPU"; timeout 120 bash bench/cluster-scale.sh "$clip" 8 600 "1 2"
step "input copy (infer vs beginBatch)"; timeout 60 node bench/input-copy.mjs vit-b16-224 32 10 fp16 2>&1 | grep -v '^Warning'
