// GPU time of each kind of dispatch inside one real forward pass: the recorded plan runs with one
// compute pass per dispatch, each bracketed by timestamp queries, after a warm-up, on random
// weights and frames; times are grouped by label without the block prefix (block3.fc1 -> fc1).
// Unlike bench/profile.mjs (each dispatch alone, wall clock) the kernels see the pass's own
// activations, caches and clocks. Usage: node bench/pass-profile.mjs [model] [batch] [precision]
// with precision fp16, fp32, int8-m1 or int8-m2 (INT8: SCALES=scales.json, else calibrated on 2
// random frames on the GPU).
import { BufferUsage, MapMode, openGpu } from '../dist/src/engine/gpu.js';
import { randomFrames } from '../dist/src/engine/random-weights.js';
import { resolveModel } from '../dist/src/models/presets.js';
import { openBenchEngine } from './open-bench-engine.mjs';

const [model = 'vit-b16-384', batchText = '32', precision = 'fp16'] = process.argv.slice(2);
const count = Number(batchText);
const config = resolveModel(model);
const gpu = await openGpu();
const d = gpu.device;
if (!gpu.features.has('timestamp-query')) {
  console.log('adapter has no timestamp queries');
  process.exit(0);
}
const engine = await openBenchEngine(gpu, config, precision, count);
const input = { kind: 'rgb', data: randomFrames(config, count), count };
await engine.infer(input);
const slot = engine.slots[0];
const plan = engine.plan(slot, input);
const n = plan.dispatches.length;
const qs = d.createQuerySet({ type: 'timestamp', count: 2 * n });
const qbuf = d.createBuffer({ size: 16 * n, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
const qread = d.createBuffer({ size: 16 * n, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
const run = async (timed) => {
  const enc = d.createCommandEncoder();
  plan.dispatches.forEach((disp, i) => {
    const p = enc.beginComputePass(
      timed
        ? {
            timestampWrites: {
              querySet: qs,
              beginningOfPassWriteIndex: 2 * i,
              endOfPassWriteIndex: 2 * i + 1,
            },
          }
        : {},
    );
    p.setPipeline(disp.pipeline);
    p.setBindGroup(0, disp.bindGroup);
    p.dispatchWorkgroups(...disp.workgroups);
    p.end();
  });
  if (timed) {
    enc.resolveQuerySet(qs, 0, 2 * n, qbuf, 0);
    enc.copyBufferToBuffer(qbuf, 0, qread, 0, 16 * n);
  }
  d.queue.submit([enc.finish()]);
  if (timed) {
    await qread.mapAsync(MapMode.READ);
    const t = new BigUint64Array(qread.getMappedRange().slice(0));
    qread.unmap();
    return plan.dispatches.map((_, i) => Number(t[2 * i + 1] - t[2 * i]) / 1e6);
  }
  await d.queue.onSubmittedWorkDone();
};
const until = performance.now() + 1500;
while (performance.now() < until) await run(false);
const samples = [];
for (let r = 0; r < 5; r++) samples.push(await run(true));
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const per = plan.dispatches.map((_, i) => med(samples.map((s) => s[i])));
const groups = new Map();
plan.dispatches.forEach((disp, i) => {
  const kind = disp.label.replace(/^block\d+\./, '');
  const g = groups.get(kind) ?? { n: 0, ms: 0 };
  g.n++;
  g.ms += per[i];
  groups.set(kind, g);
});
const total = per.reduce((a, b) => a + b, 0);
console.log(
  `${model} ${precision} batch ${count}: ${n} dispatches, sum of in-pass GPU times ${total.toFixed(2)} ms`,
);
for (const [kind, g] of [...groups].sort((a, b) => b[1].ms - a[1].ms))
  console.log(
    `  ${kind.padEnd(18)} x${String(g.n).padStart(3)} ${g.ms.toFixed(3).padStart(8)} ms  ${((100 * g.ms) / total).toFixed(1).padStart(5)} %`,
  );
await engine.close();
process.exit(0);
