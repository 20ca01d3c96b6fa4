import { beforeAll, describe, expect, it } from 'vitest';
import { BufferUsage, type GpuContext, openGpu } from '../../../src/engine/gpu.js';
import { ATTENTION_PARAMS } from '../../../src/engine/kernels/attention.js';
import { EMBED_PARAMS } from '../../../src/engine/kernels/embed.js';
import { GEMM_PARAMS } from '../../../src/engine/kernels/gemm.js';
import { INT8_GEMM_PARAMS } from '../../../src/engine/kernels/gemm-int8.js';
import { LAYERNORM_PARAMS } from '../../../src/engine/kernels/layernorm.js';
import { LAYERNORM_INT8_PARAMS } from '../../../src/engine/kernels/layernorm-int8.js';
import { type ParamsLayout, paramsLayout } from '../../../src/engine/kernels/params.js';
import { POOL_PARAMS } from '../../../src/engine/kernels/pool.js';
import { PREPROCESS_PARAMS } from '../../../src/engine/kernels/preprocess.js';
import { QUANTIZE_PARAMS } from '../../../src/engine/kernels/quantize.js';
import { kernelSource } from '../../../src/engine/kernels/source.js';
import { readBack, uniform } from '../int8/gpu-helpers.js';

// A params list gives both the WGSL struct and the packed buffer: the two must agree on every
// offset, by WGSL's uniform layout rules (4-byte scalars, vec2 aligned to 8, vec4 to 16).
const mixed = paramsLayout([
  { name: 'n', type: 'u32' },
  { name: 'uv', type: 'vec2<f32>' },
  { name: 'bias', type: 'i32', doc: 'signed' },
  { name: 'rgba', type: 'vec4<f32>' },
  { name: 'last', type: 'f32' },
]);

describe('paramsLayout', () => {
  it('places each field at its WGSL offset and rounds the buffer up to 16 bytes', () => {
    expect(mixed.offsets).toEqual({ n: 0, uv: 8, bias: 16, rgba: 32, last: 48 });
    expect(mixed.byteLength).toBe(64);
    expect(paramsLayout([{ name: 'a', type: 'u32' }]).byteLength).toBe(16);
    expect(GEMM_PARAMS.byteLength).toBe(16);
    expect(PREPROCESS_PARAMS.offsets).toMatchObject({ grid: 12, mean: 16, invStd: 32 });
  });

  it('writes the struct in the list order, with the docs as comments', () => {
    expect(mixed.wgsl).toBe(
      'struct Params {\n  n: u32,\n  uv: vec2<f32>,\n  bias: i32, // signed\n  rgba: vec4<f32>,\n  last: f32,\n}',
    );
  });

  it('packs each value at its offset in its type', () => {
    const buf = mixed.pack({ n: 7, uv: [0.5, -2], bias: -3, rgba: [1, 2, 3, 4], last: 0.25 });
    const v = new DataView(buf);
    expect(buf.byteLength).toBe(64);
    expect([v.getUint32(0, true), v.getFloat32(8, true), v.getFloat32(12, true)]).toEqual([7, 0.5, -2]);
    expect(v.getInt32(16, true)).toBe(-3);
    expect([0, 1, 2, 3].map((i) => v.getFloat32(32 + 4 * i, true))).toEqual([1, 2, 3, 4]);
    expect(v.getFloat32(48, true)).toBe(0.25);
  });

  it('names the field when a value is missing or has the wrong number of lanes', () => {
    expect(() => mixed.pack({ n: 1, uv: [1], bias: 0, rgba: [1, 2, 3, 4], last: 0 })).toThrow(
      /kernel params: uv \(vec2<f32>\) needs 2 value\(s\), got \[1\]/,
    );
    expect(() => (mixed.pack as (v: object) => ArrayBuffer)({ n: 1 })).toThrow(/kernel params: uv/);
  });

  it('is spliced at // vitstream:params, and a kernel without the slot or the params says so', () => {
    expect(kernelSource('pool', { params: POOL_PARAMS })).toContain(POOL_PARAMS.wgsl);
    expect(() => kernelSource('pool')).toThrow(/kernel pool: params not given/);
    expect(() => kernelSource('lib/int8_pack', { params: POOL_PARAMS })).toThrow(
      /no \/\/ vitstream:params line/,
    );
  });
});

// The real WGSL compiler's view of each kernel's struct: a shader copies every field's bits out
// of the packed uniform, which must give back the values packed.
describe('params on the GPU', () => {
  let gpu: GpuContext;
  beforeAll(async () => {
    gpu = await openGpu();
  });

  const layouts: [string, ParamsLayout][] = [
    ['mixed', mixed],
    ['gemm', GEMM_PARAMS],
    ['gemm-int8', INT8_GEMM_PARAMS],
    ['attention', ATTENTION_PARAMS],
    ['embed', EMBED_PARAMS],
    ['layernorm', LAYERNORM_PARAMS],
    ['layernorm-int8', LAYERNORM_INT8_PARAMS],
    ['pool', POOL_PARAMS],
    ['preprocess', PREPROCESS_PARAMS],
    ['quantize', QUANTIZE_PARAMS],
  ];
  it.each(layouts)('%s: the shader reads every field where it was packed', async (_, layout) => {
    const { device } = gpu;
    const lanes = (type: string) => (type.startsWith('vec4') ? 4 : type.startsWith('vec2') ? 2 : 1);
    const values: Record<string, number | number[]> = {};
    const expected: number[] = [];
    const stores: string[] = [];
    let k = 0;
    for (const f of layout.fields) {
      const n = lanes(f.type);
      // Distinct values whose bit patterns are easy to tell apart.
      const vals = Array.from({ length: n }, (_, i) => (f.type.includes('f32') ? 1.5 + k + i : 100 + k + i));
      values[f.name] = n === 1 ? vals[0] : vals;
      for (let i = 0; i < n; i++) {
        const bits = new DataView(new ArrayBuffer(4));
        if (f.type.includes('f32')) bits.setFloat32(0, vals[i], true);
        else bits.setUint32(0, vals[i], true);
        expected.push(bits.getUint32(0, true));
        stores.push(`out[${k + i}u] = bitcast<u32>(params.${f.name}${n === 1 ? '' : `[${i}]`});`);
      }
      k += n;
    }
    const code = `${layout.wgsl}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1)
fn main() {
  ${stores.join('\n  ')}
}`;
    const pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
    });
    const out = device.createBuffer({
      size: Math.ceil(k / 4) * 16,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC,
    });
    const group = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: uniform(device, layout.pack(values as never)) } },
        { binding: 1, resource: { buffer: out } },
      ],
    });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(1);
    pass.end();
    device.queue.submit([enc.finish()]);
    expect(Array.from(new Uint32Array(await readBack(device, out, k * 4)))).toEqual(expected);
  });
});
