// The file pipeline's own cost, without a GPU: fileBatch -> classify -> what `vitstream classify`
// does with each prediction (per-file counts, the progress board, the JSONL/CSV sink), with an
// engine that answers at once or after a fixed delay per batch. Prints frames/s and the main
// thread's busy time per frame (event-loop utilisation). Compare with `vitstream bench decode`.
// Usage (after a build):
//   node bench/pipeline-mock.mjs <video...> [--delay ms] [--batch 32] [--wait timer|spin]
//     [--path infer|direct] [--out file.jsonl|file.csv] [--decoders 2] [--pixel-format rgb|nv12]
// --wait spin polls with setImmediate until the delay has passed, as dawn.node does while a
// mapAsync is pending (its main-thread cost, without a GPU); timer sleeps through it.
// --path direct: batchFrames writes into the engine's batches (beginBatch), as classify does on
// the GPU engines; infer: a pooled JS batch buffer handed to infer() (which copies it once more,
// as the GPU engines do into their staging buffer).
// For a CPU profile: node --cpu-prof --cpu-prof-dir=/tmp/prof bench/pipeline-mock.mjs ...

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { from, lastValueFrom, mergeMap, tap } from 'rxjs';
import { fileBatch } from '../dist/pipelines/fileBatch.js';
import { progressBoard } from '../dist/src/cli/progress.js';
import { engineBeginBatch } from '../dist/src/operators/batchFrames.js';
import { classify } from '../dist/src/operators/classify.js';
import { openPredictionFile } from '../dist/src/sinks/file.js';
import { twoSlotMockEngine } from './mock-engine.mjs';

const { values: o, positionals: files } = parseArgs({
  allowPositionals: true,
  options: {
    delay: { type: 'string', default: '0' },
    batch: { type: 'string', default: '32' },
    wait: { type: 'string', default: 'timer' },
    path: { type: 'string', default: 'direct' },
    out: { type: 'string' },
    decoders: { type: 'string', default: '2' },
    'pixel-format': { type: 'string', default: 'rgb' },
  },
});
const delayMs = Number(o.delay);
const maxBatch = Number(o.batch);
const decoders = Number(o.decoders);
if (
  files.length === 0 ||
  !(delayMs >= 0) ||
  !(Number.isInteger(maxBatch) && maxBatch >= 1) ||
  !(Number.isInteger(decoders) && decoders >= 1) ||
  !['timer', 'spin'].includes(o.wait) ||
  !['infer', 'direct'].includes(o.path) ||
  !['rgb', 'nv12'].includes(o['pixel-format'])
) {
  console.error(
    'usage: node bench/pipeline-mock.mjs <video...> [--delay ms] [--batch n] [--wait timer|spin] [--path infer|direct] [--out file] [--decoders n] [--pixel-format rgb|nv12]',
  );
  process.exit(2);
}

const classes = 1000;
const S = 224;
const sizes = new Map();

/** The engine's time for a batch: slept or polled. */
function engineWait() {
  if (delayMs === 0) return Promise.resolve();
  if (o.wait === 'spin') {
    const until = performance.now() + delayMs;
    return new Promise((resolve) => {
      const poll = () => (performance.now() >= until ? resolve() : setImmediate(poll));
      poll();
    });
  }
  return new Promise((resolve) => setTimeout(resolve, delayMs));
}

const run = async (count) => {
  sizes.set(count, (sizes.get(count) ?? 0) + 1);
  await engineWait();
  return new Float32Array(count * classes);
};
const engine = twoSlotMockEngine({ size: S, classes, maxBatch, direct: o.path === 'direct', run });

// What the classify command does per prediction (src/cli/commands/classify.ts): counts per file,
// the progress board, then the sink, one write at a time.
const board = progressBoard();
const summaries = new Map(files.map((f) => [f, { frames: 0, top1: new Map() }]));
for (const f of files) board.add(f, f, undefined);
const sink = o.out ? openPredictionFile(o.out) : undefined;

const elu0 = performance.eventLoopUtilization();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let frames = 0;
await lastValueFrom(
  fileBatch(
    files.map((f) => ({ id: f, path: f })),
    {
      size: S,
      maxBatch,
      concurrency: decoders,
      pixelFormat: o['pixel-format'],
      beginBatch: engineBeginBatch(engine),
    },
  ).pipe(
    classify(engine),
    tap((p) => {
      frames++;
      const s = summaries.get(p.streamId);
      s.frames++;
      s.firstAt ??= Date.now();
      s.lastAt = Date.now();
      s.top1.set(p.top[0].label, (s.top1.get(p.top[0].label) ?? 0) + 1);
      board.update(p.streamId, s.frames);
    }),
    mergeMap((p) => from(sink ? sink.write(p) : Promise.resolve()), 1),
  ),
  { defaultValue: undefined },
);
await sink?.close();
const ms = performance.now() - t0;
const busy = performance.eventLoopUtilization(elu0).active;
// The process's CPU (all its threads, not its ffmpeg children): on a loaded machine the event
// loop's busy time also counts time the thread waited for a core.
const cpu = process.cpuUsage(cpu0);
board.stop();
const spread = [...sizes].sort((a, b) => a[0] - b[0]).map(([n, k]) => `${n}x${k}`);
console.log(
  `${o.path} ${o['pixel-format']} ${o.out ? `sink ${o.out}` : 'no sink'}, delay ${delayMs} ms (${o.wait}): ${frames} frames in ${(ms / 1000).toFixed(2)} s, ${((1000 * frames) / ms).toFixed(1)} frames/s, main thread busy ${((1000 * busy) / frames).toFixed(1)} us/frame, node CPU ${((cpu.user + cpu.system) / frames).toFixed(1)} us/frame; batches (size x count): ${spread.join(' ')}`,
);
