#!/usr/bin/env bash
# Throughput of a file job through 1 and then N `vitstream worker`s sharing this machine's GPU(s), over a
# nats-server with JetStream on loopback (issue #27's table without a multi-GPU machine: workers on one GPU).
# Workers are started and ready before the job is submitted, so engine start-up is not counted; the clock runs
# from submit to the last prediction stored (`results --follow` returns).
# Usage (GPU machine, through .gpu/enter.sh, nats-server on the PATH):
#   bash bench/cluster-scale.sh <clip.mp4> [files] [frames per file] [worker counts, e.g. "1 2"] [extra worker flags]
set -uo pipefail
clip=$1; files=${2:-8}; frames=${3:-1800}; counts=${4:-"1 2"}; extra=${5:-}
model=${MODEL:-vit-b16-224}
work=${SCALE_DIR:-/tmp/vitstream-scale}; rm -rf "$work"; mkdir -p "$work/js"
cli() { node dist/src/cli/main.js "$@"; }
bash bench/make-1080p.sh "$clip" "$frames" "$work/1080p.mp4"
for i in $(seq "$files"); do ln -f "$work/1080p.mp4" "$work/f$i.mp4"; done
node bench/random-weights.mjs "$model" "$work/w.safetensors" >/dev/null
port=$((20000 + RANDOM % 20000)); url=nats://127.0.0.1:$port
nats-server -js -a 127.0.0.1 -p "$port" -sd "$work/js" >"$work/nats.log" 2>&1 &
nats=$!
for _ in $(seq 100); do grep -q "Server is ready" "$work/nats.log" && break; sleep 0.1; done
trap 'kill $nats 2>/dev/null' EXIT
declare -A rate
echo "| workers | files | frames | seconds | frames/s | per worker vs 1 |"
echo "|---|---|---|---|---|---|"
for n in $counts; do
  pids=()
  for w in $(seq "$n"); do
    cli worker --nats "$url" --model "$model" --weights "$work/w.safetensors" --precision fp16 --max-batch 32 --id "w$n-$w" $extra >"$work/worker-$n-$w.log" 2>&1 &
    pids+=($!)
  done
  for w in $(seq "$n"); do
    for _ in $(seq 600); do grep -q ": ready on" "$work/worker-$n-$w.log" && break; sleep 0.2; done
  done
  t0=$(date +%s.%N)
  job=$(cli submit "$work"/f*.mp4 --nats "$url" --model "$model" 2>/dev/null | grep -v ^Warning | tail -1)
  cli results "$job" --follow --nats "$url" --out "$work/r$n.jsonl" >/dev/null 2>"$work/results-$n.log"
  t1=$(date +%s.%N)
  kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null
  got=$(wc -l <"$work/r$n.jsonl")
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
  fps=$(awk -v f="$got" -v s="$secs" 'BEGIN {printf "%.0f", f / s}')
  rate[$n]=$fps
  eff=$(awk -v r="$fps" -v one="${rate[1]:-$fps}" -v n="$n" 'BEGIN {printf "%.0f%%", 100 * r / (n * one)}')
  echo "| $n | $files | $got (of $((files * frames))) | $secs | $fps | $eff |"
done
