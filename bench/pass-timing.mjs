// Where a batch's wall time goes beyond its kernels: the uint8 upload alone, the recorded forward
// pass alone (wall clock, and GPU time from timestamp queries when the adapter has them), the
// pass replayed twice in one submit, and a whole infer(). Compare with bench/profile.mjs's sum of
// isolated dispatch times. An infer() is split at its submit: before it (the copy into the
// mapped staging buffer, encoding), after it (the GPU, then the wait for its results); the copy
// into a mapped buffer is also timed alone, as is the pass with its logits readback mapped.
// Usage: node bench/pass-timing.mjs [model] [batches] [precision: fp32|fp16|int8-m1|int8-m2]
import { encodeDispatches, forwardParts } from '../dist/src/engine/forward-plan.js';
import { BufferUsage, MapMode, openGpu } from '../dist/src/engine/gpu.js';
import { timeComputePass } from '../dist/src/engine/pass-timer.js';
import { randomFrames } from '../dist/src/engine/random-weights.js';
import { resolveModel } from '../dist/src/models/presets.js';
import { openBenchEngine } from './open-bench-engine.mjs';

const [model = 'vit-b16-384', batchText = '1,32', precision = 'fp16'] = process.argv.slice(2);
const batches = batchText.split(',').map(Number);
const config = resolveModel(model);
const gpu = await openGpu();
const d = gpu.device;
const engine = await openBenchEngine(gpu, config, precision, Math.max(...batches));
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const hasTs = gpu.features.has('timestamp-query');

/** Median wall time of `fn`, or of what it returns (`own`). */
async function timed(fn, n = 15, own = false) {
  await fn();
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const t = await fn();
    xs.push(own ? t : performance.now() - t0);
  }
  return med(xs);
}

for (const count of batches) {
  const input = { kind: 'rgb', data: randomFrames(config, count), count };
  await engine.infer(input);
  const slot = engine.slots[0];
  const plan = engine.plan(slot, input);
  const S = config.imageSize;
  const bytes = Math.ceil((count * S * S * 3) / 4) * 4;
  const upload = await timed(async () => {
    d.queue.writeBuffer(slot.buffers.rgb, 0, input.data.buffer, input.data.byteOffset, bytes);
    await d.queue.onSubmittedWorkDone();
  });
  const chunked = await timed(async () => {
    for (let o = 0; o < bytes; o += 1 << 20)
      d.queue.writeBuffer(
        slot.buffers.rgb,
        o,
        input.data.buffer,
        input.data.byteOffset + o,
        Math.min(1 << 20, bytes - o),
      );
    await d.queue.onSubmittedWorkDone();
  });
  const staging = d.createBuffer({ size: bytes, usage: BufferUsage.MAP_WRITE | BufferUsage.COPY_SRC });
  const mapped = await timed(async () => {
    await staging.mapAsync(MapMode.WRITE);
    new Uint8Array(staging.getMappedRange()).set(input.data.subarray(0, bytes));
    staging.unmap();
    const enc = d.createCommandEncoder();
    enc.copyBufferToBuffer(staging, 0, slot.buffers.rgb, 0, bytes);
    d.queue.submit([enc.finish()]);
    await d.queue.onSubmittedWorkDone();
  });
  const memcpy = await timed(
    async () => {
      await staging.mapAsync(MapMode.WRITE);
      const t0 = performance.now();
      new Uint8Array(staging.getMappedRange()).set(input.data.subarray(0, bytes));
      const t = performance.now() - t0;
      staging.unmap();
      return t;
    },
    15,
    true,
  );
  staging.destroy();
  // A command buffer of `reps` copies of `dispatches` in one compute pass, then `after(enc)`.
  const commands = (dispatches, reps = 1, after = () => {}) => {
    const enc = d.createCommandEncoder();
    const p = enc.beginComputePass();
    for (let r = 0; r < reps; r++) encodeDispatches(p, dispatches);
    p.end();
    after(enc);
    return enc.finish();
  };
  const pass = (reps) => async () => {
    d.queue.submit([commands(plan.dispatches, reps)]);
    await d.queue.onSubmittedWorkDone();
  };
  const one = await timed(pass(1));
  // The same pass submitted as the engine does, in two command buffers: its first quarter, then
  // the rest (recorded by Dawn while the GPU runs the first).
  const split = async () => {
    for (const part of forwardParts(plan.dispatches)) d.queue.submit([commands(part)]);
    await d.queue.onSubmittedWorkDone();
  };
  const oneSplit = await timed(split);
  const oneAgain = await timed(pass(1));
  // How long queue.submit of the encoded pass takes on the CPU: Dawn records the Vulkan commands
  // there, before the GPU can start.
  const submitCall = await timed(
    async () => {
      const cb = commands(plan.dispatches);
      const t0 = performance.now();
      d.queue.submit([cb]);
      const t = performance.now() - t0;
      await d.queue.onSubmittedWorkDone();
      return t;
    },
    15,
    true,
  );
  const two = await timed(pass(2));
  const gpuMs = hasTs
    ? med(await timeComputePass(d, (p) => encodeDispatches(p, plan.dispatches), 10))
    : Number.NaN;
  const infer = await timed(() => engine.infer(input));
  // The same infer() split at its submit.
  let submitAt = 0;
  const submit = d.queue.submit.bind(d.queue);
  d.queue.submit = (cbs) => {
    submitAt = performance.now();
    submit(cbs);
  };
  const before = [];
  const after = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    await engine.infer(input);
    const t1 = performance.now();
    before.push(submitAt - t0);
    after.push(t1 - submitAt);
  }
  d.queue.submit = submit;
  // The pass and its logits copy, then the readback mapped: GPU time plus the wait for results.
  const { logits, readback } = slot.buffers;
  const rb = Math.min(256, readback.size);
  const withReadback = await timed(async () => {
    d.queue.submit([
      commands(plan.dispatches, 1, (enc) => enc.copyBufferToBuffer(logits, 0, readback, 0, rb)),
    ]);
    await readback.mapAsync(MapMode.READ, 0, rb);
    readback.unmap();
  });
  console.log(
    `${model} ${precision} batch ${count}: infer ${infer.toFixed(2)} ms (before submit ${med(before).toFixed(2)}, after ${med(after).toFixed(2)}) | upload: writeBuffer ${upload.toFixed(2)}, in 1 MiB pieces ${chunked.toFixed(2)}, map+copy ${mapped.toFixed(2)}, copy into the mapped buffer alone ${memcpy.toFixed(2)} | pass wall ${one.toFixed(2)} / ${oneAgain.toFixed(2)}, submitted in two parts ${oneSplit.toFixed(2)} (its submit call ${submitCall.toFixed(2)}; two passes in one submit ${two.toFixed(2)}; with readback mapped ${withReadback.toFixed(2)}) | pass GPU timestamps ${gpuMs.toFixed(2)} | ${plan.dispatches.length} dispatches`,
  );
}
await engine.close();
process.exit(0);
