// Host time of getting a batch of frames into the engine, RGB against NV12, two paths:
//   infer:  frames copied into a pooled JS batch buffer (what batchFrames does), which infer()
//           copies again into the slot's mapped staging buffer;
//   direct: engine.beginBatch() hands out views into the mapped staging buffer and the frames
//           are written there once (issue #21, item 4).
// Both with the engine's sleep counted from its own submit and from the end of the batch before it.
// Per batch: the bench's own copy (assembling or writing in place), the main thread's busy time
// (event-loop utilisation: every copy, encode and submit, infer's internal copy included) and the
// wall time with two batches in flight. Each path is checked against the other: same logits.
// Usage: npm run build && node bench/input-copy.mjs [model=vit-b16-224] [batch=32] [batches=20] [precision=fp16]
// (on lavapipe, for correctness only: node bench/input-copy.mjs vit-tiny-test 4 3 fp32)

import { existsSync } from 'node:fs';
import { readViTConfigFile } from '../dist/src/engine/config.js';
import { openGpu } from '../dist/src/engine/gpu.js';
import { yuvFrameBytes } from '../dist/src/engine/yuv.js';
import { resolveModel } from '../dist/src/models/presets.js';
import { openBenchEngine } from './open-bench-engine.mjs';

const [model = 'vit-b16-224', batchArg = '32', batchesArg = '20', precision = 'fp16'] = process.argv.slice(2);
const count = Number(batchArg);
const batches = Number(batchesArg);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(batches) || batches < 1) {
  console.error(`input-copy: batch and batches must be positive integers, got ${batchArg} and ${batchesArg}`);
  process.exit(2);
}
// A preset name or config.json, or a fixture of ../shared (small models for a run on lavapipe).
const fixture = new URL(`../../shared/fixtures/${model}/config.json`, import.meta.url).pathname;
const config = existsSync(fixture) ? readViTConfigFile(fixture) : resolveModel(model);
const gpu = await openGpu();
const engine = await openBenchEngine(gpu, config, precision, count);
const S = config.imageSize;

/** `2 * count` decoded frames of `bytes` each, as a decoder hands them over (separate arrays). */
function decodedFrames(bytes) {
  let seed = 11;
  return Array.from({ length: 2 * count }, () =>
    Uint8Array.from({ length: bytes }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    }),
  );
}

async function measure(kind, path, frames, bytes) {
  const pool = [0, 1, 2].map(() => new Uint8Array(count * bytes));
  const first = [];
  const runBatch = async (k) => {
    const batchFrames = frames.slice((k % 2) * count, (k % 2) * count + count);
    if (path === 'infer') {
      const t0 = performance.now();
      const buf = pool[k % 3];
      for (let i = 0; i < count; i++) buf.set(batchFrames[i], i * bytes);
      const logits = engine.infer({ kind, data: buf, count });
      return { copyMs: performance.now() - t0, logits };
    }
    const batch = await engine.beginBatch({ kind, count });
    const t0 = performance.now();
    for (let i = 0; i < count; i++) batch.frame(i).set(batchFrames[i]);
    const logits = batch.submit();
    return { copyMs: performance.now() - t0, logits };
  };
  // Warm-up: each slot's plan recorded and timed (the engine sleeps through batches it knows).
  for (let k = 0; k < 4; k++) first.push(await (await runBatch(k)).logits);
  let copyMs = 0;
  const inFlight = [];
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  for (let k = 0; k < batches; k++) {
    const r = await runBatch(k);
    copyMs += r.copyMs;
    inFlight.push(r.logits);
    if (inFlight.length >= 2) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const wallMs = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  return {
    kind,
    path,
    uploadKiB: Math.round((count * bytes) / 1024),
    copyMs: copyMs / batches,
    busyMs: elu.active / batches,
    wallMs: wallMs / batches,
    first: first.slice(0, 2),
  };
}

const rows = [];
// The engine's wait for a batch: its sleep counted from the end of the batch queued before it
// ('queue', the default) or from its own submit ('submit', the earlier behaviour).
for (const sleepFrom of ['submit', 'queue'])
  for (const kind of ['rgb', 'nv12']) {
    engine.sleepFrom = sleepFrom;
    const bytes = kind === 'rgb' ? S * S * 3 : yuvFrameBytes(S, S);
    const frames = decodedFrames(bytes);
    const a = await measure(kind, 'infer', frames, bytes);
    const b = await measure(kind, 'direct', frames, bytes);
    for (let i = 0; i < 2; i++) {
      const x = a.first[i];
      const y = b.first[i];
      if (x.length !== y.length || x.some((v, j) => v !== y[j])) {
        console.error(`input-copy: ${kind} batch ${i}: direct writes gave other logits than infer`);
        process.exit(1);
      }
    }
    rows.push({ ...a, sleepFrom }, { ...b, sleepFrom });
  }
await engine.close();

console.log(
  `${config.name} ${precision}, batch ${count}, ${batches} batches, two in flight; ${gpu.info.description}`,
);
console.log('| sleep from | input | path | upload KiB | bench copy ms | main thread busy ms | wall ms |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.sleepFrom} | ${r.kind} | ${r.path} | ${r.uploadKiB} | ${r.copyMs.toFixed(3)} | ${r.busyMs.toFixed(3)} | ${r.wallMs.toFixed(2)} |`,
  );
