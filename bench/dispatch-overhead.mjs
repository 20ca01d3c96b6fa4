// GPU cost of a dispatch by itself: N dispatches of a one-workgroup kernel in one compute pass,
// timed with timestamp queries, (a) all writing one buffer (Dawn must put a barrier between
// them, as between the layers of a forward pass) and (b) each writing its own buffer.
// Usage: node bench/dispatch-overhead.mjs [dispatches]
import { BufferUsage, MapMode, openGpu } from '../dist/src/engine/gpu.js';

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
const qs = d.createQuerySet({ type: 'timestamp', count: 2 });
const qbuf = d.createBuffer({ size: 16, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
const qread = d.createBuffer({ size: 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
async function run(shared) {
  const xs = [];
  for (let r = 0; r < 12; r++) {
    const enc = d.createCommandEncoder();
    const p = enc.beginComputePass({
      timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    });
    p.setPipeline(pipeline);
    for (let i = 0; i < n; i++) {
      p.setBindGroup(0, groups[shared ? 0 : i]);
      p.dispatchWorkgroups(1);
    }
    p.end();
    enc.resolveQuerySet(qs, 0, 2, qbuf, 0);
    enc.copyBufferToBuffer(qbuf, 0, qread, 0, 16);
    d.queue.submit([enc.finish()]);
    await qread.mapAsync(MapMode.READ);
    const [b, e] = new BigUint64Array(qread.getMappedRange().slice(0));
    qread.unmap();
    if (r >= 2) xs.push(Number(e - b) / 1e3 / n);
  }
  return xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}
const dependent = await run(true);
const independent = await run(false);
console.log(
  `${n} one-workgroup dispatches on ${gpu.info.description}: ${dependent.toFixed(2)} µs each when each depends on the last (barrier), ${independent.toFixed(2)} µs each when independent`,
);
process.exit(0);
