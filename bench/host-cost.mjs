// The main thread's cost per frame of classify's host side, stage by stage, without ffmpeg or a
// GPU: synthetic decoded frames (pooled, as decodeFrames hands them over) -> batchFrames ->
// classify (an engine that answers at once) -> per-file counts and progress board -> JSONL sink,
// each stage added in turn. CPU time of this process per frame (one thread does all of it), so the
// differences between rows are each stage's cost.
// Usage (after a build): node bench/host-cost.mjs [frames=20000] [batch=32] [rgb|nv12] [rounds=3]

import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { from, lastValueFrom, mergeMap, Observable, tap } from 'rxjs';
import { progressBoard } from '../dist/src/cli/progress.js';
import { yuvFrameBytes } from '../dist/src/engine/yuv.js';
import { batchFrames, engineBeginBatch } from '../dist/src/operators/batchFrames.js';
import { classify } from '../dist/src/operators/classify.js';
import { openPredictionFile } from '../dist/src/sinks/file.js';
import { BufferPool } from '../dist/src/video/bufferPool.js';
import { twoSlotMockEngine } from './mock-engine.mjs';

const [framesArg = '20000', batchArg = '32', layout = 'rgb', roundsArg = '3'] = process.argv.slice(2);
const N = Number(framesArg);
const maxBatch = Number(batchArg);
const rounds = Number(roundsArg);
if (!(N >= 1 && maxBatch >= 1 && rounds >= 1) || !['rgb', 'nv12'].includes(layout)) {
  console.error('usage: node bench/host-cost.mjs [frames] [batch] [rgb|nv12] [rounds]');
  process.exit(2);
}
const S = 224;
const classes = 1000;
const frameBytes = layout === 'rgb' ? S * S * 3 : yuvFrameBytes(S, S);
const streams = 8;

/** N frames from `streams` files, pooled buffers released by the consumer (decodeFrames' contract). */
function frames() {
  return new Observable((subscriber) => {
    const pool = new BufferPool(frameBytes, 64);
    const pattern = new Uint8Array(frameBytes).map((_, i) => i * 7);
    let i = 0;
    let stopped = false;
    // Frames come in bursts per stdout read, as from ffmpeg; the next burst after the event loop turns.
    const burst = () => {
      for (let k = 0; k < 8 && i < N && !stopped; k++, i++) {
        const buf = pool.acquire();
        buf.set(pattern);
        subscriber.next({
          streamId: `file${i % streams}.mp4`,
          index: Math.floor(i / streams),
          ptsMs: Math.floor(i / streams) * 33.367,
          receivedAtMs: Date.now(),
          width: S,
          height: S,
          rgb: buf,
          ...(layout === 'nv12' && { pixelFormat: 'nv12', color: { matrix: 'bt709', range: 'limited' } }),
          release: () => pool.release(buf),
        });
      }
      if (i >= N) subscriber.complete();
      else setImmediate(burst);
    };
    setImmediate(burst);
    return () => {
      stopped = true;
    };
  });
}

/** Logits with some spread, so that top-k has work to do. */
function logits(n) {
  const out = new Float32Array(n * classes);
  for (let j = 0; j < out.length; j++) out[j] = ((j * 2654435761) % 1000) / 100;
  return out;
}

const out = path.join(os.tmpdir(), `vitstream-host-cost-${process.pid}.jsonl`);
const stages = ['batch', 'classify', 'counts+board', 'jsonl sink'];

async function run(pathKind, upTo) {
  const engine = twoSlotMockEngine({
    size: S,
    classes,
    maxBatch,
    direct: pathKind === 'direct',
    run: logits,
  });
  const board = progressBoard({ isTTY: false, write: () => true });
  for (let i = 0; i < streams; i++) board.add(`file${i}.mp4`, `file${i}.mp4`, Math.ceil(N / streams));
  const counts = new Map();
  const sink = upTo >= 3 ? openPredictionFile(out) : undefined;
  let o = frames().pipe(
    batchFrames({
      maxBatch,
      maxDelayMs: 1e9,
      maxInFlight: 3,
      beginBatch: engineBeginBatch(engine),
    }),
  );
  if (upTo === 0)
    o = o.pipe(
      mergeMap(async (b) => {
        // The engine's run without classify: the batch submitted (or copied by infer) and released.
        await (b.submit ? b.submit() : engine.infer({ kind: layout, data: b.data, count: b.count }));
        b.release();
      }, 2),
    );
  else o = o.pipe(classify(engine));
  if (upTo >= 2)
    o = o.pipe(
      tap((p) => {
        const n = (counts.get(p.streamId) ?? 0) + 1;
        counts.set(p.streamId, n);
        board.update(p.streamId, n);
      }),
    );
  if (sink) o = o.pipe(mergeMap((p) => from(sink.write(p)), 1));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await lastValueFrom(o, { defaultValue: undefined });
  await sink?.close();
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / N, wallUs: (1000 * (performance.now() - t0)) / N };
}

const rows = [];
for (let r = 0; r < rounds; r++)
  for (const p of ['infer', 'direct'])
    for (let s = 0; s < stages.length; s++) {
      const m = await run(p, s);
      const key = `${p}|${s}`;
      const best = rows.find((x) => x.key === key);
      if (!best) rows.push({ key, path: p, stage: stages[s], ...m });
      else if (m.cpuUs < best.cpuUs) Object.assign(best, m);
    }
rmSync(out, { force: true });
console.log(
  `${N} ${layout} frames of ${S}x${S}, batch ${maxBatch}, best of ${rounds}; CPU us per frame, cumulative`,
);
console.log('| path | up to stage | CPU us/frame | wall us/frame |');
console.log('|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.path} | ${r.stage} | ${r.cpuUs.toFixed(1)} | ${r.wallUs.toFixed(1)} |`);
