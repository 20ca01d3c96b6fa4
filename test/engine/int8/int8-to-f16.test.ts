import { beforeAll, describe, expect, it } from 'vitest';
import { BufferUsage, type GpuContext, openGpu } from '../../../src/engine/gpu.js';
import { kernelSource } from '../../../src/engine/kernels/source.js';
import { readBack, upload } from './gpu-helpers.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await openGpu();
});

// int8ToF16 (kernels/int8_to_f16.wgsl) stages the int8 q, k and v of the tensor-core attention
// into f16 tiles with integer and f16 arithmetic only; here it runs alone, on every byte value in
// every position of a word, against the bytes read as int8 by the CPU.
describe('int8ToF16', () => {
  it('turns every int8 value in every byte position into the same f16 value', async () => {
    if (!gpu.features.has('shader-f16')) return;
    const { device } = gpu;
    const bytes = new Uint8Array(4 * 256);
    // Word w holds bytes w, w + 1, w + 2, w + 3 (mod 256): every value in every position.
    for (let w = 0; w < 256; w++) for (let p = 0; p < 4; p++) bytes[4 * w + p] = (w + p * 67) % 256;
    const code = `enable f16;
${kernelSource('int8_to_f16', { consts: {} })}
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < arrayLength(&src)) { dst[g.x] = vec4<f32>(int8ToF16(src[g.x])); }
}`;
    const pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
    });
    const src = upload(device, bytes);
    const dst = device.createBuffer({ size: 256 * 16, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC });
    const group = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: src } },
        { binding: 1, resource: { buffer: dst } },
      ],
    });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(4);
    pass.end();
    device.queue.submit([enc.finish()]);
    const got = new Float32Array(await readBack(device, dst, 256 * 16));
    expect(Array.from(got)).toEqual(Array.from(new Int8Array(bytes.buffer)));
  });
});
