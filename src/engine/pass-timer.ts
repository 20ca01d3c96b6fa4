import { BufferUsage, MapMode } from './gpu.js';

/**
 * GPU time of a compute pass from timestamp queries at its start and end (the device needs the
 * 'timestamp-query' feature): `encode` fills the pass, which is submitted alone and waited for
 * `runs` times; returns each run's time in ms. For benchmarks and timing scripts.
 */
export async function timeComputePass(
  device: GPUDevice,
  encode: (pass: GPUComputePassEncoder) => void,
  runs: number,
): Promise<number[]> {
  const querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
  const resolved = device.createBuffer({ size: 16, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  const times: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass({
        timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
      });
      encode(pass);
      pass.end();
      enc.resolveQuerySet(querySet, 0, 2, resolved, 0);
      enc.copyBufferToBuffer(resolved, 0, read, 0, 16);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(MapMode.READ);
      const [start, end] = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      times.push(Number(end - start) / 1e6);
    }
  } finally {
    querySet.destroy();
    resolved.destroy();
    read.destroy();
  }
  return times;
}
