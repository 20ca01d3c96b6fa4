import { describe, expect, it } from 'vitest';
import { BufferUsage, openGpu } from '../../../src/engine/gpu.js';
import { ATTENTION_BINDINGS, ATTENTION_PARAMS } from '../../../src/engine/kernels/attention.js';
import { EMBED_BINDINGS, EMBED_PARAMS } from '../../../src/engine/kernels/embed.js';
import { GEMM_BINDINGS, GEMM_PARAMS, GEMM_REDUCE_BINDINGS } from '../../../src/engine/kernels/gemm.js';
import { INT8_GEMM_BINDINGS, INT8_GEMM_PARAMS } from '../../../src/engine/kernels/gemm-int8.js';
import { LAYERNORM_BINDINGS, LAYERNORM_PARAMS } from '../../../src/engine/kernels/layernorm.js';
import { LAYERNORM_INT8_PARAMS } from '../../../src/engine/kernels/layernorm-int8.js';
import type { ParamsLayout } from '../../../src/engine/kernels/params.js';
import { createPoolKernel, POOL_BINDINGS, POOL_PARAMS } from '../../../src/engine/kernels/pool.js';
import { PREPROCESS_BINDINGS, PREPROCESS_PARAMS } from '../../../src/engine/kernels/preprocess.js';
import { QUANTIZE_BINDINGS, QUANTIZE_PARAMS } from '../../../src/engine/kernels/quantize.js';
import { type BindingNames, bindGroup, kernelSource } from '../../../src/engine/kernels/source.js';

// Each module declares its binding names once, in binding order; the WGSL declares the same
// bindings by number. These must agree for every entry kernel and every variant of it.
const kernels: [string, BindingNames, ParamsLayout, Record<string, number>[]][] = [
  ['gemm', GEMM_BINDINGS, GEMM_PARAMS, [{ PARTIAL: 0 }, { PARTIAL: 1 }]],
  [
    'gemm_subgroup_matrix',
    GEMM_BINDINGS,
    GEMM_PARAMS,
    [
      { PARTIAL: 0, WIDE: 0 },
      { PARTIAL: 1, WIDE: 1 },
      { PARTIAL: 0, WIDE: 1, F16_ACC: 1, STRIP: 1, PIPELINED: 1 },
      { PARTIAL: 1, WIDE: 0, F16_ACC: 0, STRIP: 1, PIPELINED: 1 },
    ],
  ],
  ['gemm_subgroup_matrix_direct', GEMM_BINDINGS, GEMM_PARAMS, [{}]],
  ['gemm_reduce', GEMM_REDUCE_BINDINGS, GEMM_PARAMS, [{}]],
  ['gemm_int8', INT8_GEMM_BINDINGS, INT8_GEMM_PARAMS, [{}]],
  ['gemm_int8_subgroup_matrix', INT8_GEMM_BINDINGS, INT8_GEMM_PARAMS, [{}]],
  ['attention', ATTENTION_BINDINGS, ATTENTION_PARAMS, [{ INT8_IO: 0 }, { INT8_IO: 1 }]],
  [
    'attention_subgroup_matrix',
    ATTENTION_BINDINGS,
    ATTENTION_PARAMS,
    [{ INT8_IO: 0 }, { INT8_IO: 1 }, { DIRECT_KV: 1, KT64: 1, BKV: 64 }],
  ],
  ['embed', EMBED_BINDINGS, EMBED_PARAMS, [{}]],
  ['layernorm', LAYERNORM_BINDINGS, LAYERNORM_PARAMS, [{ SUBGROUPS: 0 }, { SUBGROUPS: 1 }]],
  ['layernorm_int8', LAYERNORM_BINDINGS, LAYERNORM_INT8_PARAMS, [{ SUBGROUPS: 0 }, { SUBGROUPS: 1 }]],
  ['pool', POOL_BINDINGS, POOL_PARAMS, [{}]],
  ['preprocess', PREPROCESS_BINDINGS, PREPROCESS_PARAMS, [{}]],
  ['quantize', QUANTIZE_BINDINGS, QUANTIZE_PARAMS, [{}]],
];

describe('binding names', () => {
  it.each(kernels)(
    '%s declares its module’s bindings, by number and name',
    (kernel, names, params, variants) => {
      for (const consts of variants) {
        const text = kernelSource(kernel, { params, consts });
        const declared = [...text.matchAll(/@group\(0\) @binding\((\d+)\) var(?:<[^>]*>)? (\w+)/g)].map(
          (m) => [Number(m[1]), m[2]] as const,
        );
        expect(declared.length, `${kernel} ${JSON.stringify(consts)}`).toBeGreaterThan(0);
        for (const [binding, name] of declared)
          expect(names[binding], `${kernel} @binding(${binding})`).toBe(name);
        // Every declared name is a binding of the kernel (the direct GEMM has no split-K workspace).
        const all = new Set(declared.map(([, n]) => n));
        expect(names.filter((n) => !all.has(n)).every((n) => n === 'part')).toBe(true);
      }
    },
  );

  it('builds bind groups by name and names a buffer the kernel does not bind', async () => {
    const { device } = await openGpu();
    const pool = await createPoolKernel(device, 'f32');
    const buf = (usage: number) => device.createBuffer({ size: 64, usage });
    const params = buf(BufferUsage.UNIFORM);
    const x = buf(BufferUsage.STORAGE);
    const pooled = buf(BufferUsage.STORAGE);
    expect(bindGroup(device, 'pool', pool.pipeline, pool.bindings, { params, x, pooled })).toBeDefined();
    expect(() =>
      bindGroup(device, 'pool', pool.pipeline, pool.bindings as BindingNames, { params, x, out: pooled }),
    ).toThrow(/kernel pool: no binding named out \(it has params, x, pooled\)/);
  });
});
