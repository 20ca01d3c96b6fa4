import { describe, expect, it } from 'vitest';
import { type GpuContext, openGpu } from '../../../src/engine/gpu.js';
import { dequantizeArray, quantizeArray, roundHalfEven } from '../../../src/engine/int8/quant.js';
import { createLayerNormInt8Kernel } from '../../../src/engine/kernels/layernorm-int8.js';
import { createQuantizeKernel } from '../../../src/engine/kernels/quantize.js';
import { bindGroup, type ElementType } from '../../../src/engine/kernels/source.js';
import { layerNorm } from '../../../src/engine/reference.js';
import { fromHalfArray, toHalfArray } from '../../../src/util/half.js';
import { randFloats, readBack, uniform, upload } from './gpu-helpers.js';

// Opened as the file loads, so that tests needing an adapter feature can be skipped as skipped (it.skipIf).
const gpu: GpuContext = await openGpu();

describe('CPU quantisation', () => {
  it('rounds half to even like WGSL round() and numpy.rint', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven)).toEqual([
      0, 2, 2, -0, -2, -2, 2, -3,
    ]);
  });

  it('round trip: error at most half a step inside the range, saturation at ±127 outside', () => {
    const scale = 0.02;
    const x = randFloats(10_000, 9, -3, 3);
    const back = dequantizeArray(quantizeArray(x, scale), scale);
    for (let i = 0; i < x.length; i++) {
      if (Math.abs(x[i]) <= 127 * scale)
        expect(Math.abs(back[i] - x[i])).toBeLessThanOrEqual(scale / 2 + 1e-7);
      else expect(back[i]).toBeCloseTo(Math.sign(x[i]) * 127 * scale, 6);
    }
  });
});

async function gpuQuantize(
  type: ElementType,
  x: Float32Array,
  scale: number,
): Promise<{ q: Int8Array; back: Float32Array }> {
  const { device } = gpu;
  const k = await createQuantizeKernel(device, type);
  const src = upload(device, type === 'f16' ? toHalfArray(x) : x);
  const packed = upload(device, new Uint8Array(Math.ceil(x.length / 4) * 4));
  const out = upload(device, new Uint8Array(x.length * 4));
  const params = uniform(device, k.params(x.length, scale));
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(k.quantize);
  pass.setBindGroup(0, bindGroup(device, 'q', k.quantize, k.bindings, { params, src, dst: packed }));
  pass.dispatchWorkgroups(...k.workgroups(x.length));
  pass.setPipeline(k.dequantize);
  pass.setBindGroup(0, bindGroup(device, 'dq', k.dequantize, k.bindings, { params, packed, unpacked: out }));
  pass.dispatchWorkgroups(...k.workgroups(x.length));
  pass.end();
  device.queue.submit([enc.finish()]);
  const q = new Int8Array(await readBack(device, packed, Math.ceil(x.length / 4) * 4));
  const raw = await readBack(device, out, x.length * (type === 'f16' ? 2 : 4));
  return {
    q: q.subarray(0, x.length),
    back: type === 'f16' ? fromHalfArray(new Uint16Array(raw)) : new Float32Array(raw),
  };
}

describe('quantize kernel (every adapter)', () => {
  for (const type of ['f32', 'f16'] as const) {
    it(`${type}: packs exactly the CPU's int8 values (ragged length) and dequantises them back`, async () => {
      // 1001 values: the last word is partly padding; the range overshoots ±127 steps on purpose.
      const x0 = randFloats(1001, 21, -3, 3);
      const x = type === 'f16' ? fromHalfArray(toHalfArray(x0)) : x0;
      const scale = 0.02;
      const { q, back } = await gpuQuantize(type, x, scale);
      expect(Array.from(q)).toEqual(Array.from(quantizeArray(x, scale)));
      const expected = dequantizeArray(quantizeArray(x, scale), scale);
      for (let i = 0; i < x.length; i++)
        expect(Math.abs(back[i] - expected[i])).toBeLessThanOrEqual(type === 'f16' ? 2e-3 : 1e-6);
    });
  }
});

describe('int8 LayerNorm kernel (mode 2)', () => {
  // D = 1000: more vectors than invocations (two per invocation, the second only for some).
  for (const [D, subgroups] of [
    [96, false],
    [96, true],
    [1000, false],
    [1000, true],
  ] as const)
    it.skipIf(subgroups && !gpu.features.has('subgroups'))(
      `quantises the CPU reference LayerNorm output, off by at most one step at rounding boundaries (D=${D}, ${subgroups ? 'subgroup' : 'tree'} reductions)`,
      async () => {
        const { device } = gpu;
        const rows = 37;
        const x = fromHalfArray(toHalfArray(randFloats(rows * D, 31, -2, 2)));
        const gamma = fromHalfArray(toHalfArray(randFloats(D, 32, 0.5, 1.5)));
        const beta = fromHalfArray(toHalfArray(randFloats(D, 33, -0.2, 0.2)));
        const scale = 3 / 127;
        const k = await createLayerNormInt8Kernel(device, D, subgroups);
        const y = upload(device, new Uint8Array(rows * D));
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass();
        pass.setPipeline(k.pipeline);
        pass.setBindGroup(
          0,
          bindGroup(device, 'ln-int8', k.pipeline, k.bindings, {
            params: uniform(device, k.params(rows, D, 1e-6, scale)),
            x: upload(device, toHalfArray(x)),
            gamma: upload(device, toHalfArray(gamma)),
            beta: upload(device, toHalfArray(beta)),
            y,
          }),
        );
        pass.dispatchWorkgroups(...k.workgroups(rows));
        pass.end();
        device.queue.submit([enc.finish()]);
        const got = new Int8Array(await readBack(device, y, rows * D));
        const ref = new Float32Array(rows * D);
        layerNorm(x, gamma, beta, ref, rows, D, 1e-6);
        const want = quantizeArray(ref, scale);
        let off = 0;
        for (let i = 0; i < want.length; i++) {
          expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1);
          if (got[i] !== want[i]) off++;
        }
        expect(off / want.length).toBeLessThan(0.01);
      },
    );
});
