import { describe, expect, it } from 'vitest';
import { BufferUsage, type GpuContext, openGpu } from '../../../src/engine/gpu.js';
import { quantizeValue } from '../../../src/engine/int8/quant.js';
import { kernelSource } from '../../../src/engine/kernels/source.js';
import { readBack, upload } from './gpu-helpers.js';

// Opened as the file loads, so that tests needing an adapter feature can be skipped as skipped (it.skipIf).
const gpu: GpuContext = await openGpu();

/** Runs `body` (WGSL reading src[i], writing dst[i]) once per word of `src`; dst as raw words. */
async function runWords(include: string, body: string, src: ArrayBufferView, dstWords: number) {
  const { device } = gpu;
  const code = `enable f16;
${kernelSource(include, { consts: {} })}
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x;
  if (i < arrayLength(&src)) { ${body} }
}`;
  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
  });
  const input = upload(device, src);
  const dst = device.createBuffer({
    size: Math.ceil(dstWords / 4) * 16,
    usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC,
  });
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: input } },
      { binding: 1, resource: { buffer: dst } },
    ],
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(Math.ceil(src.byteLength / 4 / 64));
  pass.end();
  device.queue.submit([enc.finish()]);
  return readBack(device, dst, dstWords * 4);
}

// The int8 packing functions of the kernels, alone, against the CPU: int8ToF16
// (kernels/lib/int8_to_f16.wgsl) stages the tensor-core attention's int8 q, k, v into f16 tiles, and
// quantize4 (kernels/lib/int8_pack.wgsl) makes every int8 activation; both avoid conversion
// instructions through float bit patterns.
describe('int8 packing in WGSL', () => {
  it.skipIf(!gpu.features.has('shader-f16'))(
    'int8ToF16 turns every int8 value in every byte position into the same f16 value',
    async () => {
      const bytes = new Uint8Array(4 * 256);
      // Word w holds bytes w, w + 67, w + 134, w + 201 (mod 256): every value in every position.
      for (let w = 0; w < 256; w++) for (let p = 0; p < 4; p++) bytes[4 * w + p] = (w + p * 67) % 256;
      const out = await runWords(
        'lib/int8_to_f16',
        'let h = vec4<f32>(int8ToF16(src[i])); for (var k = 0u; k < 4u; k++) { dst[4u * i + k] = bitcast<u32>(h[k]); }',
        bytes,
        4 * 256,
      );
      expect(Array.from(new Float32Array(out))).toEqual(Array.from(new Int8Array(bytes.buffer)));
    },
  );

  it('quantize4 rounds half to even and saturates at ±127 like the CPU reference', async () => {
    const invScale = Math.fround(1 / 0.37);
    // Halves of the step (ties both ways), saturation, signed zeros and pseudo-random values.
    const values: number[] = [];
    for (let k = -130; k <= 130; k++) values.push((k + 0.5) / invScale, k / invScale);
    values.push(1e6, -1e6, 0, -0, 200 / invScale, -200 / invScale);
    let seed = 7;
    while (values.length % 4 !== 0 || values.length < 1024) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      values.push((seed / 2 ** 32 - 0.5) * 300);
    }
    const x = Float32Array.from(values);
    const out = await runWords(
      'lib/int8_pack',
      `let v = vec4<f32>(bitcast<f32>(src[4u * i]), bitcast<f32>(src[4u * i + 1u]), bitcast<f32>(src[4u * i + 2u]), bitcast<f32>(src[4u * i + 3u]));
    if (4u * i + 3u < arrayLength(&src)) { dst[i] = quantize4(v, ${invScale}); }`,
      x,
      x.length / 4,
    );
    const got = new Int8Array(out);
    const want = Array.from(x, (v) => quantizeValue(v, invScale));
    const bad = want.flatMap((w, i) => (got[i] === w ? [] : [`${x[i]}: ${got[i]} vs ${w}`]));
    expect(bad).toEqual([]);
  });
});
