import { beforeAll, describe, expect, it } from 'vitest';
import { BufferUsage, type GpuContext, MapMode, openGpu } from '../../src/engine/gpu.js';
import {
  createGemmKernel,
  DIRECT_TILES,
  type Epilogue,
  type GemmVariant,
  SUBGROUP_MATRIX_TILES,
  variantKey,
  variantSupports,
  workgroupBytes,
} from '../../src/engine/kernels/gemm.js';
import { bindGroup, type ElementType } from '../../src/engine/kernels/source.js';
import { gemm as cpuGemm, geluErf, geluTanh } from '../../src/engine/reference.js';
import { fromHalfArray, toHalfArray } from '../../src/util/half.js';
import { relMaxError } from '../helpers/compare.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await openGpu();
});

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
  const upload = (x: Float32Array) => {
    const data = type === 'f16' ? toHalfArray(x) : x;
    const buf = device.createBuffer({
      size: Math.ceil(data.byteLength / 16) * 16,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC,
    });
    device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, Math.ceil(data.byteLength / 4) * 4);
    return buf;
  };
  const params = device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
  device.queue.writeBuffer(params, 0, kernel.params(M, N, K));
  const out = upload(prev);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(
    0,
    bindGroup(device, 'gemm-test', kernel.pipeline, [params, upload(a), upload(b), upload(bias), out]),
  );
  pass.dispatchWorkgroups(...kernel.workgroups(M, N));
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
describe('[gpu] subgroup-matrix GEMM (tensor cores)', () => {
  it('most tile shapes fit the workgroup memory, or the adapter has no tensor cores', () => {
    if (!gpu.hasF16TensorCores) {
      console.log(
        `[gpu] skipped: adapter "${gpu.info.description}" has no f16 subgroup matrices; run on the GPU machine`,
      );
      return;
    }
    const fits = SUBGROUP_MATRIX_TILES.filter(
      (v) => workgroupBytes(v) <= gpu.limits.maxComputeWorkgroupStorageSize,
    );
    expect(fits.length).toBeGreaterThan(SUBGROUP_MATRIX_TILES.length / 2);
  });
  const bk64: GemmVariant = { kind: 'subgroup-matrix', sgM: 2, sgN: 2, bk: 64 };
  for (const variant of [...SUBGROUP_MATRIX_TILES, bk64, ...DIRECT_TILES]) {
    it(`${variantKey(variant)}: every epilogue matches the CPU reference, or the adapter cannot run it`, async () => {
      if (!gpu.hasF16TensorCores || workgroupBytes(variant) > gpu.limits.maxComputeWorkgroupStorageSize)
        return;
      for (const epilogue of EPILOGUES) {
        // [77, 400, 192]: ragged M and N past the last tile; [5, 96, 64]: fewer rows than a fragment.
        for (const [M, N, K] of [
          [197, 96, 64],
          [77, 1000, 192],
          [77, 400, 192],
          [5, 96, 64],
          [300, 2304, 768],
        ] as const) {
          if (!variantSupports(variant, 'f16', K, N)) continue;
          const { got, expected } = await runGemm(variant, 'f16', epilogue, M, N, K);
          expect(
            relMaxError(got, expected),
            `${variantKey(variant)} ${epilogue} ${M}x${N}x${K}`,
          ).toBeLessThan(4e-3);
        }
      }
    });
  }
});
