import { beforeAll, describe, expect, it } from 'vitest';
import { BufferUsage, type GpuContext, MapMode, openGpu } from '../../src/engine/gpu.js';
import { createLayerNormKernel } from '../../src/engine/kernels/layernorm.js';
import { bindGroup, type ElementType } from '../../src/engine/kernels/source.js';
import { fromHalfArray, toHalfArray } from '../../src/util/half.js';
import { relMaxError } from '../helpers/compare.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await openGpu();
});

function rand(n: number, seed: number, offset = 0): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = offset + (s / 2 ** 32 - 0.5) * 4;
  }
  return out;
}

/** Float64 LayerNorm of `rows` rows taken every `stride` rows of x. */
function cpuLayerNorm(
  x: Float32Array,
  rows: number,
  D: number,
  stride: number,
  g: Float32Array,
  b: Float32Array,
) {
  const out = new Float32Array(rows * D);
  for (let r = 0; r < rows; r++) {
    const o = r * stride * D;
    let mean = 0;
    for (let d = 0; d < D; d++) mean += x[o + d];
    mean /= D;
    let v = 0;
    for (let d = 0; d < D; d++) v += (x[o + d] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / D + 1e-6);
    for (let d = 0; d < D; d++) out[r * D + d] = (x[o + d] - mean) * inv * g[d] + b[d];
  }
  return out;
}

async function runLayerNorm(type: ElementType, subgroups: boolean, rows: number, D: number, stride: number) {
  const { device } = gpu;
  const kernel = await createLayerNormKernel(device, type, D, subgroups);
  // A mean far from zero next to the spread: the two-pass statistics must not lose it.
  const round = (a: Float32Array) => (type === 'f16' ? fromHalfArray(toHalfArray(a)) : a);
  const x = round(rand(rows * stride * D, D * 7 + rows, 30));
  const g = round(rand(D, 3, 1));
  const b = round(rand(D, 5));
  const usage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const upload = (a: Float32Array) => {
    const data = type === 'f16' ? toHalfArray(a) : a;
    const buf = device.createBuffer({ size: Math.ceil(data.byteLength / 16) * 16, usage });
    device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, Math.ceil(data.byteLength / 4) * 4);
    return buf;
  };
  const el = type === 'f16' ? 2 : 4;
  const outBytes = Math.ceil((rows * D * el) / 16) * 16;
  const out = device.createBuffer({ size: outBytes, usage });
  const params = device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
  device.queue.writeBuffer(params, 0, kernel.params(rows, D, stride, 1e-6));
  const bufs = [params, upload(x), upload(g), upload(b), out];
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, bindGroup(device, 'layernorm-test', kernel.pipeline, bufs));
  pass.dispatchWorkgroups(...kernel.workgroups(rows));
  pass.end();
  const rb = device.createBuffer({ size: outBytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  enc.copyBufferToBuffer(out, 0, rb, 0, outBytes);
  device.queue.submit([enc.finish()]);
  await rb.mapAsync(MapMode.READ);
  const n = rows * D;
  const got =
    type === 'f16'
      ? fromHalfArray(new Uint16Array(rb.getMappedRange().slice(0, n * 2)))
      : new Float32Array(rb.getMappedRange().slice(0, n * 4));
  for (const buf of [...bufs, rb]) buf.destroy();
  return { got, expected: cpuLayerNorm(x, rows, D, stride, g, b) };
}

describe('LayerNorm kernel', () => {
  // Hidden sizes under, at and past one value per invocation (128), not multiples of it; every
  // row, and every 5th row as the final norm reads the class tokens.
  for (const subgroups of [false, true]) {
    for (const type of ['f32', 'f16'] as const) {
      it(`${type}, ${subgroups ? 'subgroup' : 'tree'} reductions, match a float64 reference`, async () => {
        if (subgroups && !gpu.features.has('subgroups')) return;
        if (type === 'f16' && !gpu.features.has('shader-f16')) return;
        for (const [rows, D, stride] of [
          [3, 100, 1],
          [7, 768, 1],
          [4, 300, 5],
        ]) {
          const { got, expected } = await runLayerNorm(type, subgroups, rows, D, stride);
          expect(relMaxError(got, expected), `rows=${rows} D=${D} stride=${stride}`).toBeLessThan(
            type === 'f32' ? 1e-5 : 4e-3,
          );
        }
      });
    }
  }
});
