// GPU cost of a dispatch by itself: N dispatches of a one-workgroup kernel in one compute pass,
// timed with timestamp queries, (a) all writing one buffer (Dawn must put a barrier between
// them, as between the layers of a forward pass) and (b) each writing its own buffer.
// Usage: node bench/dispatch-overhead.mjs [dispatches]
import { BufferUsage, openGpu } from '../dist/src/engine/gpu.js';
import { timeComputePass } from '../dist/src/engine/pass-timer.js';

const n = Number(process.argv[2] ?? 100);
const gpu = await openGpu();
const d = gpu.device;
if (!gpu.features.has('timestamp-query')) {
  console.log('no timestamp-query on this adapter');
  process.exit(0);
}
const module = d.createShaderModule({
  code: `@group(0) @binding(0) var<storage, read_write> x: array<u32>;
@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) { x[i] = x[i] + 1u; }`,
});
const pipeline = d.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
const bufs = Array.from({ length: n }, () => d.createBuffer({ size: 256, usage: BufferUsage.STORAGE }));
const groups = bufs.map((b) =>
  d.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: b } }],
  }),
);
async function run(shared) {
  const times = await timeComputePass(
    d,
    (p) => {
      p.setPipeline(pipeline);
      for (let i = 0; i < n; i++) {
        p.setBindGroup(0, groups[shared ? 0 : i]);
        p.dispatchWorkgroups(1);
      }
    },
    12,
  );
  // µs per dispatch, the first two runs left out (warm-up).
  const xs = times.slice(2).map((ms) => (ms * 1e3) / n);
  return xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}
const dependent = await run(true);
const independent = await run(false);
console.log(
  `${n} one-workgroup dispatches on ${gpu.info.description}: ${dependent.toFixed(2)} µs each when each depends on the last (barrier), ${independent.toFixed(2)} µs each when independent`,
);
process.exit(0);
