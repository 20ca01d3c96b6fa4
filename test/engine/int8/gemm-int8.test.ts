import { describe, expect, it } from 'vitest';
import { type GpuContext, openGpu } from '../../../src/engine/gpu.js';
import { int8Gemm, quantizeValue } from '../../../src/engine/int8/quant.js';
import {
  createInt8GemmKernel,
  INT8_SUBGROUP_MATRIX_TILES,
  type Int8Epilogue,
  type Int8GemmVariant,
  int8StripLayout,
  int8TensorCoreSource,
  int8VariantKey,
  int8VariantSupports,
  int8WorkgroupBytes,
  parseInt8Variant,
} from '../../../src/engine/kernels/gemm-int8.js';
import { bindGroup } from '../../../src/engine/kernels/source.js';
import { geluErf, geluTanh } from '../../../src/engine/reference.js';
import { fromHalfArray, toHalfArray } from '../../../src/util/half.js';
import { randFloats, randInt8, readBack, uniform, upload } from './gpu-helpers.js';

// Opened as the file loads, so that GPU-only tests can be skipped as skipped (it.skipIf).
const gpu: GpuContext = await openGpu();

const transpose = (b: Int8Array, K: number, N: number) => {
  const t = new Int8Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) t[n * K + k] = b[k * N + n];
  return t;
};

/**
 * Runs one INT8 GEMM on random int8 operands and returns what it wrote next to the exact
 * integer product (int8Gemm, int32) pushed through the same epilogue on the CPU.
 */
async function run(
  variant: Int8GemmVariant,
  epilogue: Int8Epilogue,
  outInt8: boolean,
  M: number,
  N: number,
  K: number,
) {
  const { device } = gpu;
  const a = randInt8(M * K, 1 + M);
  const b = randInt8(K * N, 2 + N);
  const wScale = randFloats(N, 3, 0.5e-3, 2e-3);
  const bias = randFloats(N, 4);
  const prev = fromHalfArray(toHalfArray(randFloats(M * N, 5)));
  const aScale = 0.01;
  const outScale = 0.05;
  const kernel = await createInt8GemmKernel(device, epilogue, variant, outInt8);
  const c = upload(device, toHalfArray(prev));
  const cq = upload(device, new Uint8Array(M * N));
  const weights = transpose(b, K, N);
  const group = bindGroup(device, 'int8-gemm-test', kernel.pipeline, kernel.bindings, {
    params: uniform(device, kernel.params(M, N, K, aScale, outScale)),
    a: upload(device, a),
    b: upload(device, weights),
    wScale: upload(device, wScale),
    bias: upload(device, bias),
    c,
    cq,
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(...kernel.workgroups(M, N));
  pass.end();
  device.queue.submit([enc.finish()]);
  const exact = int8Gemm(a, b, M, N, K);
  const act =
    epilogue === 'bias-gelu-erf' ? geluErf : epilogue === 'bias-gelu-tanh' ? geluTanh : (x: number) => x;
  const expected = new Float32Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      const i = m * N + n;
      expected[i] =
        act(exact[i] * aScale * wScale[n] + bias[n]) + (epilogue === 'bias-residual' ? prev[i] : 0);
    }
  if (outInt8) {
    const got = new Int8Array(await readBack(device, cq, M * N));
    return { got: Float32Array.from(got), expected: expected.map((v) => quantizeValue(v, 1 / outScale)) };
  }
  return { got: fromHalfArray(new Uint16Array(await readBack(device, c, M * N * 2))), expected };
}

function check(got: Float32Array, expected: Float32Array, outInt8: boolean, what: string) {
  let worst = 0;
  let off = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(got[i] - expected[i]);
    // f16 output: half an f16 ulp of the value plus f32 rounding slack; int8: one step at most
    // where the CPU's and GPU's f32 roundings land on opposite sides of a rounding boundary.
    const tol = outInt8 ? 1 : Math.abs(expected[i]) * 2 ** -10 + 1e-3;
    worst = Math.max(worst, d / tol);
    if (d !== 0) off++;
  }
  expect(worst, `${what}: worst error / tolerance`).toBeLessThanOrEqual(1);
  if (outInt8) expect(off / expected.length, `${what}: share of int8 outputs off by one`).toBeLessThan(0.01);
}

// Ragged: M not a tile multiple; N and K multiples of 4 only (not of 16, 32 or 64), so every
// edge of the word-packed tiles and the padded workgroup rows is crossed.
const SHAPES = [
  [197, 100, 68],
  [77, 1000, 196],
  [33, 20, 36],
] as const;
const CASES: [Int8Epilogue, boolean][] = [
  ['bias', false],
  ['bias-gelu-erf', false],
  ['bias-gelu-tanh', false],
  ['bias-residual', false],
  ['bias-gelu-erf', true],
  ['bias-gelu-tanh', true],
  ['bias', true],
];

describe('portable INT8 GEMM (dot4I8Packed)', () => {
  it('the adapter offers packed_4x8_integer_dot_product (lavapipe does)', async () => {
    const { create } = await import('webgpu');
    const features = create([]).wgslLanguageFeatures;
    expect(features.has('packed_4x8_integer_dot_product')).toBe(true);
  });
  for (const [epilogue, outInt8] of CASES) {
    it(`${epilogue}${outInt8 ? ' -> int8' : ' -> f16'} matches the exact integer product on ragged shapes`, async () => {
      for (const [M, N, K] of SHAPES) {
        const { got, expected } = await run({ kind: 'dot4' }, epilogue, outInt8, M, N, K);
        check(got, expected, outInt8, `dot4 ${M}x${N}x${K}`);
      }
    });
  }
});

// The designs of issue #23 on today's tiles: MmaPipelined main loop (-p), strip epilogue (-e), B
// fragments from storage (-d), alone and combined, on a 128x128 tile with one K-128 buffer and
// on 64x64 and 128x128 ones with two K-64 buffers, and on the default large tile (128x256, one
// K-64 buffer).
const DESIGN_KEYS = [
  'i8mat-2x4-f4x2-bk128-st1-p',
  'i8mat-2x4-f4x2-bk128-st1-e',
  'i8mat-2x4-f4x2-bk128-st1-d',
  'i8mat-2x4-f4x2-bk128-st1-p-e',
  'i8mat-2x4-f4x2-bk128-st1-p-d',
  'i8mat-2x4-f4x2-bk128-st1-p-e-d',
  'i8mat-2x2-f2x2-p',
  'i8mat-2x2-f2x2-p-e',
  'i8mat-2x2-f2x2-p-e-d',
  'i8mat-2x4-f4x2-p-e',
  'i8mat-2x2-f4x4-bk128-st1-p-e',
  'i8mat-2x4-f4x4-st1-p',
  'i8mat-2x4-f4x4-st1-e',
  'i8mat-2x4-f4x4-st1-p-e',
  'i8mat-2x4-f4x4-st1-p-d',
];

describe('INT8 tensor-core variant keys and sources (no GPU needed)', () => {
  it('round-trip through int8VariantKey and parseInt8Variant, designs included', () => {
    for (const key of [...INT8_SUBGROUP_MATRIX_TILES.map(int8VariantKey), ...DESIGN_KEYS])
      expect(int8VariantKey(parseInt8Variant(key)), key).toBe(key);
    expect(parseInt8Variant('i8mat-2x2-f2x2-p-e-d')).toEqual({
      kind: 'subgroup-matrix',
      sgM: 2,
      sgN: 2,
      fm: 2,
      fn: 2,
      pipelined: true,
      strips: true,
      directB: true,
    });
    // Designs in another order are not a key.
    expect(() => parseInt8Variant('i8mat-2x2-f2x2-e-p')).toThrow(
      /unknown INT8 GEMM variant 'i8mat-2x2-f2x2-e-p'/,
    );
  });

  it('refuses a strip epilogue whose strips fit in neither tile, naming the key', () => {
    // 4x4 subgroups, 16 strips of 16 rows x 36 words against 256 x 20 words of A and 128 x 20 of B.
    expect(() => parseInt8Variant('i8mat-4x4-f4x2-st1-e')).toThrow(/'i8mat-4x4-f4x2-st1-e'.*strips/);
    expect(() => parseInt8Variant('i8mat-2x2-f2x2-bk32-p')).toThrow(/'i8mat-2x2-f2x2-bk32-p'.*bk 64/);
  });

  it('strips: both tiles where each holds a round, else the one that does, else half-width strips', () => {
    const layout = (key: string) => {
      const v = parseInt8Variant(key);
      return v.kind === 'subgroup-matrix' ? int8StripLayout(v) : undefined;
    };
    expect(layout('i8mat-2x4-f4x2-bk128-st1-e')).toEqual({ sf: 2, regions: 2, inB: false });
    expect(layout('i8mat-2x4-f4x2-bk128-st1-e-d')).toEqual({ sf: 2, regions: 1, inB: false });
    // 128x256, K 64: full-width strips fit nowhere; half-width ones in tileB only.
    expect(layout('i8mat-2x4-f4x4-st1-e')).toEqual({ sf: 2, regions: 1, inB: true });
    // 128x128 of 64x64 subgroups, K 128: full-width strips in both tiles.
    expect(layout('i8mat-2x2-f4x4-bk128-st1-e')).toEqual({ sf: 4, regions: 2, inB: false });
  });

  it('B from storage needs whole K steps; its variants hold no B tile', () => {
    const direct = parseInt8Variant('i8mat-2x4-f4x2-bk128-st1-d');
    expect(int8VariantSupports(direct, 768, 2304)).toBe(true);
    expect(int8VariantSupports(direct, 208, 2304)).toBe(false);
    expect(int8WorkgroupBytes(direct)).toBeLessThan(
      int8WorkgroupBytes(parseInt8Variant('i8mat-2x4-f4x2-bk128-st1')),
    );
  });

  it('every design variant expands; the designs change the source only when asked for', () => {
    for (const key of DESIGN_KEYS) {
      const v = parseInt8Variant(key);
      if (v.kind !== 'subgroup-matrix') throw new Error(key);
      const src = int8TensorCoreSource(v);
      // Comments may quote the directives (the included fragments' headers do).
      expect(src.replace(/\/\/.*$/gm, ''), key).not.toMatch(/vitstream:|\{=|\{[a-zA-Z]\}/);
      expect(src.includes('const PIPELINED: u32 = 1u;'), key).toBe(v.pipelined === true);
      expect(src.includes('putStrip0('), key).toBe(v.strips === true);
      // Every fragment goes through a strip once.
      if (v.strips)
        expect(src.match(/putStrip\d\(/g), key).toHaveLength(v.fm * v.fn + int8StripLayout(v)!.regions);
      expect(src.includes('var<workgroup> tileB'), key).toBe(v.directB !== true);
      // The last k-group alone stores the next tile (its barrier with it) in MmaPipelined order.
      if (v.pipelined) expect(src.match(/storeA\(tid \+ 0u \* THREADS, nb \* A_TILE/g), key).toHaveLength(1);
    }
  });
});

// [gpu] i8 tensor cores exist only where the adapter has i8 subgroup matrices (the H100
// machine; lavapipe has none).
describe.runIf(gpu.hasI8TensorCores)('[gpu] subgroup-matrix INT8 GEMM (i8 tensor cores)', () => {
  // One test per tile: each compiles its pipelines and checks every epilogue (~10 s on an H100).
  for (const variant of [...INT8_SUBGROUP_MATRIX_TILES, ...DESIGN_KEYS.map(parseInt8Variant)]) {
    const fits = int8WorkgroupBytes(variant) <= gpu.limits.maxComputeWorkgroupStorageSize;
    it.skipIf(!fits)(
      `${int8VariantKey(variant)}: every epilogue matches the exact integer product`,
      async () => {
        // Tensor cores load K and N in 16s; M stays ragged, and K = 208 ends on half a 64-deep stage.
        // B from storage (-d) runs whole K steps only: the shapes it cannot run give way to
        // aligned ones, with N still ragged against the tile.
        const shapes = (
          [
            [197, 112, 208],
            [77, 1008, 192],
            [33, 48, 16],
            [197, 112, 256],
            [33, 48, 128],
            [300, 2304, 768],
          ] as const
        ).filter(
          ([, N, K], i) =>
            int8VariantSupports(variant, K, N) &&
            (i < 3 || i === 5 || (variant.kind !== 'dot4' && variant.directB === true)),
        );
        for (const [epilogue, outInt8] of CASES) {
          // The big shape once per tile: its CPU integer reference takes a second.
          for (const [M, N, K] of epilogue === 'bias' && !outInt8 ? shapes : shapes.slice(0, -1)) {
            const { got, expected } = await run(variant, epilogue, outInt8, M, N, K);
            check(
              got,
              expected,
              outInt8,
              `${int8VariantKey(variant)} ${epilogue}${outInt8 ? ' q' : ''} ${M}x${N}x${K}`,
            );
          }
        }
      },
      120_000,
    );
  }
});
