import { describe, expect, it } from 'vitest';
import { readViTConfigFile } from '../../src/engine/config.js';
import { PlanRecorder } from '../../src/engine/forward-plan.js';
import { BufferUsage, type GpuContext, MapMode, openGpu } from '../../src/engine/gpu.js';
import {
  createGemmKernel,
  DIRECT_TILES,
  type Epilogue,
  type GemmVariant,
  parseVariant,
  SPLIT_K_FACTORS,
  SPLIT_K_TILES,
  SUBGROUP_MATRIX_TILES,
  variantKey,
  variantSupports,
  workgroupBytes,
} from '../../src/engine/kernels/gemm.js';
import type { ElementType } from '../../src/engine/kernels/source.js';
import { gemm as cpuGemm, geluErf, geluTanh } from '../../src/engine/reference.js';
import { WebGpuEngine } from '../../src/engine/webgpu-engine.js';
import { loadWeights } from '../../src/engine/weights/index.js';
import { fromHalfArray, toHalfArray } from '../../src/util/half.js';
import { readNpy } from '../../src/util/npy.js';
import { argmaxRows, relMaxError } from '../helpers/compare.js';
import { sharedPath } from '../helpers/shared.js';

// Opened as the file loads, so that GPU-only tests can be skipped as skipped (it.skipIf).
const gpu: GpuContext = await openGpu();

function rand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2;
  }
  return out;
}

async function runGemm(
  variant: GemmVariant,
  type: ElementType,
  epilogue: Epilogue,
  M: number,
  N: number,
  K: number,
) {
  const { device } = gpu;
  const a = rand(M * K, 1);
  const b = rand(K * N, 2);
  const bias = rand(N, 3);
  const prev = rand(M * N, 4);
  const kernel = await createGemmKernel(device, type, epilogue, variant);
  const upload = (x: Float32Array, as = type) => {
    const data = as === 'f16' ? toHalfArray(x) : x;
    const buf = device.createBuffer({
      size: Math.ceil(data.byteLength / 16) * 16,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC,
    });
    device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, Math.ceil(data.byteLength / 4) * 4);
    return buf;
  };
  const uploadF32 = (x: Float32Array) => upload(x, 'f32');
  const params = device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
  device.queue.writeBuffer(params, 0, kernel.params(M, N, K));
  const out = upload(prev);
  // Split-K's workspace starts as NaN garbage: every element it reads must have been written.
  const ws = kernel.workspaceBytes(M, N);
  const workspace = ws > 0 ? uploadF32(new Float32Array(ws / 4).fill(Number.NaN)) : undefined;
  // Variants with B transposed read the weights as [N, K].
  const bt = variant.kind === 'subgroup-matrix' && variant.bt;
  const bData = bt ? transpose(b, K, N) : b;
  const buffers = { params, a: upload(a), b: upload(bData), bias: upload(bias), c: out, workspace };
  const rec = new PlanRecorder(device);
  kernel.record(rec, 'gemm-test', buffers, M, N);
  const dispatches = rec.dispatches;
  if (kernel.splits > 1) expect(dispatches.map((d) => d.label)).toEqual(['gemm-test', 'gemm-test.reduce']);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.workgroups);
  }
  pass.end();
  const rb = device.createBuffer({ size: out.size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  enc.copyBufferToBuffer(out, 0, rb, 0, out.size);
  device.queue.submit([enc.finish()]);
  await rb.mapAsync(MapMode.READ);
  const got =
    type === 'f16'
      ? fromHalfArray(new Uint16Array(rb.getMappedRange().slice(0, M * N * 2)))
      : new Float32Array(rb.getMappedRange().slice(0, M * N * 4));
  return { got, expected: expectedGemm(type, epilogue, M, N, K, a, b, bias, prev) };
}

function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

// Independent expectation: the CPU reference GEMM (float64 sums) on the same (rounded) inputs,
// computed once per shape and epilogue (the inputs depend on nothing else).
const expectedCache = new Map<string, Float32Array>();
function expectedGemm(
  type: ElementType,
  epilogue: Epilogue,
  M: number,
  N: number,
  K: number,
  a: Float32Array,
  b: Float32Array,
  bias: Float32Array,
  prev: Float32Array,
) {
  const key = `${type} ${epilogue} ${M}x${N}x${K}`;
  const hit = expectedCache.get(key);
  if (hit) return hit;
  const round = (x: Float32Array) => (type === 'f16' ? fromHalfArray(toHalfArray(x)) : x);
  const expected = new Float32Array(M * N);
  const residual = epilogue === 'bias-residual' ? round(prev) : undefined;
  if (residual) expected.set(residual);
  cpuGemm(round(a), round(b), round(bias), expected, M, K, N, residual);
  if (epilogue === 'bias-gelu-erf')
    for (let i = 0; i < expected.length; i++) expected[i] = geluErf(expected[i]);
  if (epilogue === 'bias-gelu-tanh')
    for (let i = 0; i < expected.length; i++) expected[i] = geluTanh(expected[i]);
  expectedCache.set(key, expected);
  return expected;
}

// Shapes with ragged edges: M not a multiple of any tile, N and K not multiples of 64.
const SHAPES = [
  [197, 96, 64],
  [77, 1000, 192],
  [130, 20, 36],
] as const;
const EPILOGUES: Epilogue[] = ['bias', 'bias-gelu-erf', 'bias-gelu-tanh', 'bias-residual'];
// [77, 400, 192]: ragged M and N past the last tile; [5, 96, 64]: fewer rows than a fragment.
const TILE_SHAPES: (readonly [number, number, number])[] = [
  [197, 96, 64],
  [77, 1000, 192],
  [77, 400, 192],
  [5, 96, 64],
  [300, 2304, 768],
];

/** Every epilogue of an f16 variant on each [M, N, K] it supports, within tolerance(K) of the CPU reference. */
async function expectEveryEpilogue(
  variant: GemmVariant,
  shapes: (readonly [number, number, number])[],
  tolerance: (K: number) => number,
): Promise<void> {
  for (const epilogue of EPILOGUES)
    for (const [M, N, K] of shapes) {
      if (!variantSupports(variant, 'f16', K, N)) continue;
      const { got, expected } = await runGemm(variant, 'f16', epilogue, M, N, K);
      expect(relMaxError(got, expected), `${variantKey(variant)} ${epilogue} ${M}x${N}x${K}`).toBeLessThan(
        tolerance(K),
      );
    }
}

describe('portable GEMM (every adapter)', () => {
  for (const type of ['f32', 'f16'] as const) {
    for (const epilogue of EPILOGUES) {
      it(`${type} ${epilogue} matches the CPU reference on ragged shapes`, async () => {
        for (const [M, N, K] of SHAPES) {
          const { got, expected } = await runGemm({ kind: 'portable' }, type, epilogue, M, N, K);
          expect(relMaxError(got, expected), `${M}x${N}x${K}`).toBeLessThan(type === 'f32' ? 1e-5 : 4e-3);
        }
      });
    }
  }
});

// [gpu] Tensor-core kernels exist only where the adapter has f16 subgroup matrices (the H100
// machine; lavapipe has none). Run there with `npx vitest run test/engine/gemm.test.ts`.
describe.runIf(gpu.hasF16TensorCores)('[gpu] subgroup-matrix GEMM (tensor cores)', () => {
  it('most tile shapes fit the workgroup memory', () => {
    const fits = SUBGROUP_MATRIX_TILES.filter(
      (v) => workgroupBytes(v) <= gpu.limits.maxComputeWorkgroupStorageSize,
    );
    expect(fits.length).toBeGreaterThan(SUBGROUP_MATRIX_TILES.length / 2);
  });
  const bk64: GemmVariant = { kind: 'subgroup-matrix', sgM: 2, sgN: 2, bk: 64 };
  const layouts: GemmVariant[] = [
    { kind: 'subgroup-matrix', sgM: 2, sgN: 2, fm: 4, fn: 4, wide: true },
    { kind: 'subgroup-matrix', sgM: 2, sgN: 2, fm: 4, fn: 4, bt: true },
    { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 2, wide: true, bt: true },
    { kind: 'subgroup-matrix', sgM: 2, sgN: 2, wide: true, bt: true, splitK: 2 },
    { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 2, bk: 64, wide: true, stages: 1 },
    { kind: 'subgroup-matrix', sgM: 2, sgN: 2, bk: 64, wide: true, bt: true, stages: 1, splitK: 3 },
  ];
  for (const variant of [...SUBGROUP_MATRIX_TILES, bk64, ...layouts, ...DIRECT_TILES]) {
    const fits = workgroupBytes(variant) <= gpu.limits.maxComputeWorkgroupStorageSize;
    it.skipIf(!fits)(`${variantKey(variant)}: every epilogue matches the CPU reference`, () =>
      expectEveryEpilogue(variant, TILE_SHAPES, () => 4e-3),
    );
  }
});

// The options of issue #23 on today's tiles and layouts: f16 accumulators (-h), the epilogue by
// strips (-e) and the MmaPipelined main loop (-p), alone and together, with one buffer (st1, two
// barriers per step), B transposed, deep K steps (bk128: 8 k-groups) and split-K. 2x4-f4x4 with
// -h -e needs a strip larger than its A buffer, which then grows.
const OPTION_VARIANTS: GemmVariant[] = [
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, wide: true, strip: true },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, wide: true, pipelined: true },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, f16Acc: true },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 2, wide: true, f16Acc: true },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 2, wide: true, f16Acc: true, strip: true },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 2, wide: true, pipelined: true },
  {
    kind: 'subgroup-matrix',
    sgM: 2,
    sgN: 4,
    fm: 4,
    fn: 2,
    wide: true,
    f16Acc: true,
    strip: true,
    pipelined: true,
  },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 2, bk: 64, wide: true, stages: 1, pipelined: true },
  {
    kind: 'subgroup-matrix',
    sgM: 2,
    sgN: 4,
    fm: 4,
    fn: 2,
    bk: 64,
    wide: true,
    stages: 1,
    f16Acc: true,
    strip: true,
  },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 4, wide: true, stages: 1, f16Acc: true, strip: true },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, bk: 128, wide: true, stages: 1, pipelined: true },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, wide: true, bt: true, strip: true, pipelined: true },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, strip: true, splitK: 3 },
  {
    kind: 'subgroup-matrix',
    sgM: 2,
    sgN: 2,
    wide: true,
    bt: true,
    f16Acc: true,
    strip: true,
    pipelined: true,
    splitK: 2,
  },
];

/**
 * What f16 accumulators may cost, relative to the largest output (relMaxError's scale). The
 * tensor cores round the running sum to f16 once per 16-deep multiply-accumulate, at most
 * ceil(K / 16) times, each by less than one f16 ulp of the sum (2^-10 of its magnitude, whether
 * they round to nearest or truncate). The running sums of these inputs (uniform in [-1, 1)) are
 * random walks whose peaks stay within twice the largest output, so the error stays below
 * 2 · ceil(K / 16) · 2^-10 on top of the 4e-3 that the f16 output costs every variant: about
 * 0.1 at K = 768, 0.03 at K = 192, 0.012 at K = 64. A wrong fragment or row is off by O(1).
 */
function f16AccTolerance(K: number): number {
  return 4e-3 + 2 * Math.ceil(K / 16) * 2 ** -10;
}

describe.runIf(gpu.hasF16TensorCores)('[gpu] subgroup-matrix GEMM options -h, -e, -p (tensor cores)', () => {
  for (const variant of OPTION_VARIANTS) {
    const fits = workgroupBytes(variant) <= gpu.limits.maxComputeWorkgroupStorageSize;
    const f16Acc = variant.kind === 'subgroup-matrix' && variant.f16Acc;
    it.skipIf(!fits)(`${variantKey(variant)}: every epilogue matches the CPU reference`, () =>
      expectEveryEpilogue(variant, [...TILE_SHAPES, [130, 768, 3072]], (K) =>
        f16Acc ? f16AccTolerance(K) : 4e-3,
      ),
    );
  }
});

describe('subgroup-matrix GEMM options (every adapter)', () => {
  it('count the strip and the f16 scratch in their workgroup memory', () => {
    const bytes = (key: string) => workgroupBytes(parseVariant(key)!);
    // The f32 strip is its own array: on 128x128 tiles of two buffers it no longer fits.
    expect(bytes('sgmat-2x4-f4x2-w-e')).toBeGreaterThan(48 * 1024);
    expect(bytes('sgmat-2x4-f4x2-w-h-e')).toBeLessThanOrEqual(48 * 1024);
    // f16 scratch in the A buffers: no memory of its own unless the strip outgrows them.
    expect(bytes('sgmat-2x4-f4x2-w-h')).toBe(bytes('sgmat-2x4-f4x2-w') - 8 * 1024);
    expect(bytes('sgmat-2x4-f4x4-w-st1-h-e')).toBe(8 * 16 * 72 * 2 + 32 * 264 * 2);
    for (const v of OPTION_VARIANTS) expect(workgroupBytes(v), variantKey(v)).toBeLessThanOrEqual(48 * 1024);
  });

  it('refuse -p with one k-group per tile (bk 16)', async () => {
    const v = parseVariant('sgmat-2x2-bk16-p')!;
    expect(variantSupports(v, 'f16', 64, 64)).toBe(false);
    await expect(createGemmKernel(gpu.device, 'f16', 'bias', v)).rejects.toThrow(/-p needs bk >= 32/);
  });
});

// Split-K shapes: deep K as in fc2 (K = 4 N), fewer rows than a fragment, K that does not split
// evenly (the last splits short or empty), ragged M and N.
const SPLIT_SHAPES = [
  [77, 96, 768],
  [5, 64, 512],
  [130, 20, 36],
  [77, 400, 192],
] as const;

describe('variant names', () => {
  it('round-trip through variantKey and parseVariant, split-K included', () => {
    for (const v of [
      { kind: 'portable' },
      { kind: 'portable', splitK: 4 },
      ...SUBGROUP_MATRIX_TILES,
      ...SPLIT_K_TILES.map((t) => ({ ...t, splitK: 8 })),
      { kind: 'subgroup-matrix', sgM: 2, sgN: 2, fm: 4, fn: 2, bk: 64, splitK: 2 },
      { kind: 'subgroup-matrix', sgM: 2, sgN: 2, wide: true, bt: true, splitK: 2 },
      { kind: 'subgroup-matrix', sgM: 2, sgN: 4, bt: true },
      ...OPTION_VARIANTS,
      { kind: 'subgroup-matrix', sgM: 2, sgN: 2, pipelined: true },
    ] as GemmVariant[]) {
      const key = variantKey(v);
      expect(variantKey(parseVariant(key)!), key).toBe(key);
    }
    expect(variantKey({ kind: 'subgroup-matrix', sgM: 2, sgN: 2, splitK: 4 })).toBe('sgmat-2x2-s4');
    expect(
      variantKey({
        kind: 'subgroup-matrix',
        sgM: 2,
        sgN: 4,
        fm: 4,
        fn: 2,
        wide: true,
        f16Acc: true,
        strip: true,
        pipelined: true,
        splitK: 2,
      }),
    ).toBe('sgmat-2x4-f4x2-w-h-e-p-s2');
    expect(parseVariant('sgmat-2x2-e')).toEqual({ kind: 'subgroup-matrix', sgM: 2, sgN: 2, strip: true });
    expect(parseVariant('sgmat-2x2-p-h')).toBeUndefined();
    expect(parseVariant('portable-s')).toBeUndefined();
  });
});

// The partial-product pass of the portable kernel feeds the same reduce + epilogue kernel as the
// tensor-core one, so this covers the reduce pass on every adapter (lavapipe included).
describe('portable split-K GEMM (every adapter): partial products + reduce pass', () => {
  for (const type of ['f32', 'f16'] as const) {
    for (const splitK of [2, 3, 8]) {
      it(`${type} portable-s${splitK}: every epilogue matches the CPU reference`, async () => {
        for (const epilogue of EPILOGUES) {
          for (const [M, N, K] of SPLIT_SHAPES) {
            const { got, expected } = await runGemm({ kind: 'portable', splitK }, type, epilogue, M, N, K);
            expect(relMaxError(got, expected), `${epilogue} ${M}x${N}x${K}`).toBeLessThan(
              type === 'f32' ? 1e-5 : 4e-3,
            );
          }
        }
      });
    }
  }
});

describe.runIf(gpu.hasF16TensorCores)('[gpu] split-K subgroup-matrix GEMM (tensor cores)', () => {
  for (const tile of SPLIT_K_TILES) {
    for (const splitK of SPLIT_K_FACTORS) {
      const variant = { ...tile, splitK } as GemmVariant;
      const fits = workgroupBytes(variant) <= gpu.limits.maxComputeWorkgroupStorageSize;
      it.skipIf(!fits)(`${variantKey(variant)}: every epilogue matches the CPU reference`, async () => {
        for (const epilogue of EPILOGUES) {
          for (const [M, N, K] of [...SPLIT_SHAPES, [300, 768, 3072]] as const) {
            if (!variantSupports(variant, 'f16', K, N)) continue;
            const { got, expected } = await runGemm(variant, 'f16', epilogue, M, N, K);
            expect(relMaxError(got, expected), `${epilogue} ${M}x${N}x${K}`).toBeLessThan(4e-3);
          }
        }
      });
    }
  }
});

// A whole forward pass with every GEMM split: the per-slot workspace, the recorded reduce
// dispatches and the epilogues in place (residual adds into x) against the fixture's golden logits.
describe('engine with split-K GEMMs (vit-tiny-test golden logits)', () => {
  const TOL = { fp32: 1e-4, fp16: 2e-2 } as const;
  const cases = [
    { precision: 'fp32', variant: { kind: 'portable', splitK: 3 } },
    { precision: 'fp16', variant: { kind: 'portable', splitK: 2 } },
    { precision: 'fp16', variant: { kind: 'subgroup-matrix', sgM: 2, sgN: 2, splitK: 4 }, tensor: true },
  ] as const;
  for (const { precision, variant, ...rest } of cases) {
    const tensor = 'tensor' in rest;
    it.skipIf(tensor && !gpu.hasF16TensorCores)(
      `${tensor ? '[gpu] ' : ''}${precision} ${variantKey(variant)}`,
      async () => {
        const dir = ['fixtures', 'vit-tiny-test'];
        const config = readViTConfigFile(sharedPath(...dir, 'config.json'));
        const weights = await loadWeights(sharedPath(...dir, 'weights.npz'), config);
        const engine = await WebGpuEngine.open({
          config,
          weights,
          precision,
          maxBatch: 4,
          gpu,
          gemm: () => variant as GemmVariant,
        });
        try {
          const split = Object.values(engine.gemmChoices).filter((k) => k === variantKey(variant));
          expect(split.length).toBeGreaterThan(0);
          const rgb = readNpy(sharedPath(...dir, 'rgb.npy')).data as Uint8Array;
          const golden = readNpy(sharedPath(...dir, 'logits.npy')).data as Float32Array;
          const got = await engine.infer({ kind: 'rgb', data: rgb, count: 4 });
          expect(relMaxError(got, golden)).toBeLessThan(TOL[precision]);
          expect(argmaxRows(got, config.numClasses)).toEqual(argmaxRows(golden, config.numClasses));
        } finally {
          await engine.close();
        }
      },
    );
  }
});
