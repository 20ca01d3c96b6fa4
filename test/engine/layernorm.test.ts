import { describe, expect, it } from 'vitest';
import { type GpuContext, openGpu } from '../../src/engine/gpu.js';
import { createLayerNormKernel } from '../../src/engine/kernels/layernorm.js';
import { bindGroup, type ElementType } from '../../src/engine/kernels/source.js';
import { fromHalfArray, toHalfArray } from '../../src/util/half.js';
import { relMaxError } from '../helpers/compare.js';
import { randFloats, readBack, uniform, upload } from './int8/gpu-helpers.js';

// Opened as the file loads, so that tests needing an adapter feature can be skipped as skipped (it.skipIf).
const gpu: GpuContext = await openGpu();

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
  const x = round(randFloats(rows * stride * D, D * 7 + rows, 28, 32));
  const g = round(randFloats(D, 3, -1, 3));
  const b = round(randFloats(D, 5, -2, 2));
  const store = (a: Float32Array) => upload(device, type === 'f16' ? toHalfArray(a) : a);
  const outBytes = rows * D * (type === 'f16' ? 2 : 4);
  const out = upload(device, new Uint8Array(outBytes));
  const params = uniform(device, kernel.params(rows, D, stride, 1e-6));
  const bufs = { params, x: store(x), gamma: store(g), beta: store(b), y: out };
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, bindGroup(device, 'layernorm-test', kernel.pipeline, kernel.bindings, bufs));
  pass.dispatchWorkgroups(...kernel.workgroups(rows));
  pass.end();
  device.queue.submit([enc.finish()]);
  const data = await readBack(device, out, outBytes);
  const got = type === 'f16' ? fromHalfArray(new Uint16Array(data)) : new Float32Array(data);
  for (const buf of Object.values(bufs)) buf.destroy();
  return { got, expected: cpuLayerNorm(x, rows, D, stride, g, b) };
}

describe('LayerNorm kernel', () => {
  // Hidden sizes under, at and past one value per invocation (128), not multiples of it; every
  // row, and every 5th row as the final norm reads the class tokens.
  for (const subgroups of [false, true]) {
    for (const type of ['f32', 'f16'] as const) {
      const unsupported =
        (subgroups && !gpu.features.has('subgroups')) || (type === 'f16' && !gpu.features.has('shader-f16'));
      it.skipIf(unsupported)(
        `${type}, ${subgroups ? 'subgroup' : 'tree'} reductions, match a float64 reference`,
        async () => {
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
        },
      );
    }
  }
});
