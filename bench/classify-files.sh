#!/usr/bin/env bash
# Issue #21's target on the GPU machine: `vitstream classify` of several 1080p H.264 files, NVDEC against CPU
# decoding, beside the engine alone and decode alone (the same files and number of ffmpegs) from the same call,
# with the machine's CPU use per run (/proc/stat) and a check that every frame got its line.
# Usage: bash .gpu/enter.sh bash bench/classify-files.sh <clip.mp4> [files] [frames per file] [model]
set -uo pipefail
clip=$1; files=${2:-8}; frames=${3:-3600}; model=${4:-vit-b16-224}
work=${CLASSIFY_DIR:-/tmp/vitstream-files}; mkdir -p "$work"
cli() { node dist/src/cli/main.js "$@" 2>&1 | grep -v '^Warning'; }
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat; }
bash bench/make-1080p.sh "$clip" "$frames" "$work/1080p.mp4"
for i in $(seq "$files"); do ln -f "$work/1080p.mp4" "$work/f$i.mp4"; done
node bench/random-weights.mjs "$model" "$work/w.safetensors" >/dev/null
# scale_cuda's kernels are compiled on first use (~6 s); not part of any run below.
ffmpeg -v error -hwaccel cuda -hwaccel_output_format cuda -i "$work/1080p.mp4" -frames:v 10 -vf scale_cuda=224:224 -f null - || true
echo "=== engine only ($model fp16, batch 32)"
cli bench --model "$model" --precision fp16 --batch 32 --iterations 20 --gemm auto | grep -E '^\| (precision|fp16)' | head -2
echo "=== decode only: one file, $files ffmpegs at once, 224x224 nv12"
cli bench decode "$work/1080p.mp4" --frames "$frames" --hwaccel none,cuda --parallel "$files" --pixel-format nv12 | grep -E '^\|'
echo "=== classify $files files x $frames frames"
echo "| hwaccel | decoders | extra | frames/s | lines | CPU cores busy |"
echo "|---|---|---|---|---|---|"
run() {
  local hw=$1 dec=$2; shift 2
  read -r b0 i0 < <(busy)
  local r; r=$(cli classify "$work"/f*.mp4 --model "$model" --weights "$work/w.safetensors" --precision fp16 \
    --max-batch 32 --hwaccel "$hw" --decoders "$dec" --out "$work/p.jsonl" "$@" | grep -E 'frames in .* s \(' | tail -1)
  read -r b1 i1 < <(busy)
  local cores; cores=$(awk -v b=$((b1 - b0)) -v i=$((i1 - i0)) -v n="$(nproc)" 'BEGIN {printf "%.1f", n * b / (b + i)}')
  echo "| $hw | $dec | ${*:--} | $(echo "$r" | sed -n 's/.*(\([0-9.]*\) frames\/s).*/\1/p') | $(wc -l <"$work/p.jsonl") of $((files * frames)) | $cores |"
}
run cuda 8
run cuda 8 --input-path infer
run none 8
run none 2
[ -n "${CLASSIFY_PROFILE:-}" ] && {
  # One NVDEC run under the V8 profiler: where the main thread goes.
  node --cpu-prof --cpu-prof-dir="$CLASSIFY_PROFILE" dist/src/cli/main.js classify "$work"/f*.mp4 --model "$model" \
    --weights "$work/w.safetensors" --precision fp16 --max-batch 32 --hwaccel cuda --out "$work/p.jsonl" 2>&1 | tail -1
  node -e '
    const fs = require("fs"); const dir = process.argv[1];
    const f = fs.readdirSync(dir).filter((x) => x.endsWith(".cpuprofile")).map((x) => dir + "/" + x)[0];
    const p = JSON.parse(fs.readFileSync(f)); const self = new Map(); const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const dt = p.timeDeltas; let total = 0;
    p.samples.forEach((id, i) => { const n = byId.get(id); const k = n.callFrame.functionName + " " + n.callFrame.url.split("/").slice(-2).join("/") + ":" + n.callFrame.lineNumber; self.set(k, (self.get(k) ?? 0) + dt[i]); total += dt[i]; });
    console.log("main thread, self time, top 25 of " + (total / 1e6).toFixed(1) + " s:");
    [...self].sort((a, b) => b[1] - a[1]).slice(0, 25).forEach(([k, v]) => console.log((100 * v / total).toFixed(1).padStart(5) + "%  " + k));
  ' "$CLASSIFY_PROFILE"
}
