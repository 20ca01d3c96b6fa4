// Where the time of one synchronous infer() goes at small batches: encoding the ~100 dispatches
// (createCommandEncoder -> submit), submit itself, and the wait for the GPU and the readback.
// Also the bare round trip of an empty submit + map. Usage: node bench/overhead.mjs [model] [batches]
import { BufferUsage, MapMode, openGpu } from '../dist/src/engine/gpu.js';
import { randomFrames, randomWeights } from '../dist/src/engine/random-weights.js';
import { WebGpuEngine } from '../dist/src/engine/webgpu-engine.js';
import { resolveModel } from '../dist/src/models/presets.js';

const [model = 'vit-b16-384', batches = '1,8'] = process.argv.slice(2);
const config = resolveModel(model);
const gpu = await openGpu();
const d = gpu.device;
const rb = d.createBuffer({ size: 256, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
const src = d.createBuffer({ size: 256, usage: BufferUsage.COPY_SRC });
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rt = [];
for (let i = 0; i < 30; i++) {
  const t0 = performance.now();
  const enc = d.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, rb, 0, 256);
  d.queue.submit([enc.finish()]);
  await rb.mapAsync(MapMode.READ);
  rb.unmap();
  rt.push(performance.now() - t0);
}
console.log(`empty submit + map round trip: ${med(rt).toFixed(3)} ms`);

const maxBatch = Math.max(...batches.split(',').map(Number));
const engine = await WebGpuEngine.open({
  config,
  weights: randomWeights(config),
  precision: 'fp16',
  maxBatch,
  gpu,
});
const marks = {};
const origEncoder = d.createCommandEncoder.bind(d);
d.createCommandEncoder = (...a) => {
  marks.encode = performance.now();
  return origEncoder(...a);
};
const origSubmit = d.queue.submit.bind(d.queue);
d.queue.submit = (cbs) => {
  marks.submit = performance.now();
  origSubmit(cbs);
  marks.submitted = performance.now();
};
for (const count of batches.split(',').map(Number)) {
  const input = { kind: 'rgb', data: randomFrames(config, count), count };
  for (let i = 0; i < 5; i++) await engine.infer(input);
  const rows = { total: [], encode: [], submit: [], wait: [] };
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    await engine.infer(input);
    const t1 = performance.now();
    rows.total.push(t1 - t0);
    rows.encode.push(marks.submit - marks.encode);
    rows.submit.push(marks.submitted - marks.submit);
    rows.wait.push(t1 - marks.submitted);
  }
  console.log(
    `fp16 batch ${count}: infer ${med(rows.total).toFixed(2)} ms = encode ${med(rows.encode).toFixed(2)} + submit ${med(rows.submit).toFixed(2)} + GPU and readback ${med(rows.wait).toFixed(2)} (medians)`,
  );
}
await engine.close();
process.exit(0);
