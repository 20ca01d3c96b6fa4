// Time of each kind of dispatch in one forward pass (sum over layers), to see where a batch's
// time goes: node bench/profile.mjs [model] [batch] [precision]. Each dispatch of the recorded
// plan is timed alone (10 back-to-back dispatches in one submit), then grouped by its label.

import { timeDispatches } from '../dist/src/engine/gemm-timing.js';
import { openGpu } from '../dist/src/engine/gpu.js';
import { randomFrames, randomWeights } from '../dist/src/engine/random-weights.js';
import { readTuningCache, tunedPolicy } from '../dist/src/engine/tuning.js';
import { WebGpuEngine } from '../dist/src/engine/webgpu-engine.js';
import { resolveModel } from '../dist/src/models/presets.js';

const [model = 'vit-b16-384', batchText = '32', precision = 'fp16'] = process.argv.slice(2);
const batch = Number(batchText);
const config = resolveModel(model);
const gpu = await openGpu();
const type = precision === 'fp16' ? 'f16' : 'f32';
const engine = await WebGpuEngine.open({
  config,
  weights: randomWeights(config),
  precision,
  maxBatch: batch,
  gpu,
  gemm: tunedPolicy(gpu, type, readTuningCache()),
});
const input = { kind: 'rgb', data: randomFrames(config, batch), count: batch };
const t0 = performance.now();
await engine.infer(input);
const first = performance.now() - t0;
const times = [];
for (let i = 0; i < 10; i++) {
  const t = performance.now();
  await engine.infer(input);
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
// The engine's recorded plan for this batch (internal: a profiling tool may look inside).
const plan = engine.plan(engine.slots[0], input);
const groups = new Map();
let sum = 0;
for (const d of plan.dispatches) {
  const ms = await timeDispatches(gpu.device, d.pipeline, d.bindGroup, d.workgroups, 10);
  const kind = d.label.replace(/^block\d+\./, '').replace(/^embed\./, '');
  const g = groups.get(kind) ?? { n: 0, ms: 0 };
  g.n++;
  g.ms += ms;
  groups.set(kind, g);
  sum += ms;
}
console.log(
  `${model} ${precision} batch ${batch}: infer median ${times[5].toFixed(2)} ms (first ${first.toFixed(1)} ms); dispatches ${plan.dispatches.length}, sum of dispatch times ${sum.toFixed(2)} ms`,
);
for (const [kind, g] of [...groups].sort((a, b) => b[1].ms - a[1].ms))
  console.log(`  ${kind.padEnd(18)} x${String(g.n).padStart(3)}  ${g.ms.toFixed(3).padStart(8)} ms`);
await engine.close();
process.exit(0);
