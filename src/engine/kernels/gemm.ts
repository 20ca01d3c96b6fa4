import { computePipeline, type ElementType, kernelSource } from './source.js';

/** What a GEMM does after A·B: always adds the bias, then maybe GELU or a residual add. */
export type Epilogue = 'bias' | 'bias-gelu-erf' | 'bias-gelu-tanh' | 'bias-residual';
const EPILOGUE_CODE: Record<Epilogue, number> = {
  bias: 0,
  'bias-gelu-erf': 1,
  'bias-gelu-tanh': 2,
  'bias-residual': 3,
};

/**
 * A GEMM variant: `portable` (kernels/gemm.wgsl, any adapter, f32 or f16 storage),
 * `subgroup-matrix` (kernels/gemm_subgroup_matrix.wgsl, tensor cores, f16 only) with its tile
 * shape: sgM x sgN subgroups, each owning fm x fn fragments of 16x16 (default 2 x 2), K steps
 * of bk (default 32; 64 fits the workgroup memory only for small tiles), or
 * `subgroup-matrix-direct` (kernels/gemm_subgroup_matrix_direct.wgsl): the same tile shape, but
 * fragments loaded straight from storage, `ks` K-steps of 16 per loop trip (default 1); `bCol`
 * reads B pre-transposed ([N,K]), for timing only: the engine uploads weights as [K,N].
 */
export type GemmVariant =
  | { kind: 'portable' }
  | { kind: 'subgroup-matrix'; sgM: number; sgN: number; fm?: number; fn?: number; bk?: number }
  | {
      kind: 'subgroup-matrix-direct';
      sgM: number;
      sgN: number;
      fm: number;
      fn: number;
      ks?: number;
      bCol?: boolean;
    };

export function variantKey(v: GemmVariant): string {
  if (v.kind === 'portable') return 'portable';
  if (v.kind === 'subgroup-matrix-direct')
    return `sgdir-${v.sgM}x${v.sgN}-f${v.fm}x${v.fn}${(v.ks ?? 1) === 1 ? '' : `-k${v.ks}`}${v.bCol ? '-bt' : ''}`;
  const fm = v.fm ?? 2;
  const fn = v.fn ?? 2;
  return `sgmat-${v.sgM}x${v.sgN}${fm === 2 && fn === 2 ? '' : `-f${fm}x${fn}`}${(v.bk ?? 32) === 32 ? '' : `-bk${v.bk}`}`;
}

/** Inverse of variantKey; undefined for a name it does not know. */
export function parseVariant(key: string): GemmVariant | undefined {
  if (key === 'portable') return { kind: 'portable' };
  const d = /^sgdir-(\d+)x(\d+)-f(\d+)x(\d+)(?:-k(\d+))?(-bt)?$/.exec(key);
  if (d) {
    const v: GemmVariant = {
      kind: 'subgroup-matrix-direct',
      sgM: Number(d[1]),
      sgN: Number(d[2]),
      fm: Number(d[3]),
      fn: Number(d[4]),
    };
    if (d[5]) v.ks = Number(d[5]);
    if (d[6]) v.bCol = true;
    return v;
  }
  const m = /^sgmat-(\d+)x(\d+)(?:-f(\d+)x(\d+))?(?:-bk(\d+))?$/.exec(key);
  if (!m) return undefined;
  const v: GemmVariant = { kind: 'subgroup-matrix', sgM: Number(m[1]), sgN: Number(m[2]) };
  if (m[3]) Object.assign(v, { fm: Number(m[3]), fn: Number(m[4]) });
  if (m[5]) v.bk = Number(m[5]);
  return v;
}

/** Output tile of a workgroup, rows x columns. */
export function tileOf(v: GemmVariant): { bm: number; bn: number } {
  if (v.kind === 'portable') return { bm: 64, bn: 64 };
  return { bm: 16 * (v.fm ?? 2) * v.sgM, bn: 16 * (v.fn ?? 2) * v.sgN };
}

/**
 * Workgroup memory of a subgroup-matrix variant: two padded A and B buffers (BK 32) and a 16x16
 * f32 scratch per subgroup; the direct variant has only fn scratch fragments per subgroup and a
 * 16x16 f16 tile for M < 16.
 */
export function workgroupBytes(v: GemmVariant): number {
  if (v.kind === 'portable') return 2 * 16 * 64 * 4;
  if (v.kind === 'subgroup-matrix-direct') return 256 * 4 * v.fn * v.sgM * v.sgN + 512;
  const { bm, bn } = tileOf(v);
  const bk = v.bk ?? 32;
  return 2 * (bm * (bk + 8) + bk * (bn + 8)) * 2 + 256 * 4 * v.sgM * v.sgN;
}

/**
 * Direct-load tensor-core variants (K and N multiples of 16). Not tuning candidates: on an H100
 * they lost to the staged kernel on every ViT-B/16 GEMM (e.g. fc1 13 vs 99 TFLOP/s); kept for
 * `node bench/gemm-variants.mjs` and tested.
 */
export const DIRECT_TILES: GemmVariant[] = [
  { kind: 'subgroup-matrix-direct', sgM: 2, sgN: 2, fm: 4, fn: 4 },
  { kind: 'subgroup-matrix-direct', sgM: 2, sgN: 2, fm: 2, fn: 4 },
  { kind: 'subgroup-matrix-direct', sgM: 2, sgN: 2, fm: 4, fn: 2 },
  { kind: 'subgroup-matrix-direct', sgM: 2, sgN: 2, fm: 2, fn: 2, ks: 2 },
  { kind: 'subgroup-matrix-direct', sgM: 2, sgN: 2, fm: 2, fn: 4, ks: 2 },
  { kind: 'subgroup-matrix-direct', sgM: 1, sgN: 4, fm: 4, fn: 4 },
  { kind: 'subgroup-matrix-direct', sgM: 4, sgN: 1, fm: 4, fn: 4 },
  { kind: 'subgroup-matrix-direct', sgM: 2, sgN: 4, fm: 4, fn: 4 },
  { kind: 'subgroup-matrix-direct', sgM: 4, sgN: 2, fm: 4, fn: 4 },
];

/** Tuning candidates; those over the adapter's workgroup memory limit are dropped where used. */
export const SUBGROUP_MATRIX_TILES: GemmVariant[] = [
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2 },
  { kind: 'subgroup-matrix', sgM: 4, sgN: 2 },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4 },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, fm: 4, fn: 2 },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, fm: 2, fn: 4 },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, fm: 4, fn: 4 },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 2 },
  { kind: 'subgroup-matrix', sgM: 4, sgN: 2, fm: 2, fn: 4 },
  { kind: 'subgroup-matrix', sgM: 1, sgN: 4, fm: 4, fn: 2 },
];

/** Whether a variant can run a shape at all (vec4 loads need K and N multiples of 4). */
export function variantSupports(v: GemmVariant, type: ElementType, K: number, N: number): boolean {
  if (v.kind === 'subgroup-matrix-direct')
    return type === 'f16' && !v.bCol && K % (16 * (v.ks ?? 1)) === 0 && N % 16 === 0;
  return v.kind === 'portable' || (type === 'f16' && K % 4 === 0 && N % 4 === 0);
}

export interface GemmKernel {
  variant: GemmVariant;
  epilogue: Epilogue;
  pipeline: GPUComputePipeline;
  /** Params struct {M, N, K, _pad}. Bindings: params, a, b, bias, c. */
  params(M: number, N: number, K: number): ArrayBuffer;
  workgroups(M: number, N: number): [number, number, number];
}

export async function createGemmKernel(
  device: GPUDevice,
  type: ElementType,
  epilogue: Epilogue,
  variant: GemmVariant,
): Promise<GemmKernel> {
  const constants = { EPILOGUE: EPILOGUE_CODE[epilogue] };
  const label = `gemm-${variantKey(variant)}-${epilogue}`;
  if (variant.kind === 'portable') {
    const pipeline = await computePipeline(
      device,
      label,
      kernelSource('gemm', { elementType: type }),
      'main',
      constants,
    );
    return {
      variant,
      epilogue,
      pipeline,
      params: (M, N, K) => new Uint32Array([M, N, K, 0]).buffer,
      workgroups: (M, N) => [Math.ceil(N / 64), Math.ceil(M / 64), 1],
    };
  }
  if (variant.kind === 'subgroup-matrix-direct') {
    const consts = {
      SG_M: variant.sgM,
      SG_N: variant.sgN,
      FM: variant.fm,
      FN: variant.fn,
      KS: variant.ks ?? 1,
      B_COL: variant.bCol ? 1 : 0,
    };
    const pipeline = await computePipeline(
      device,
      label,
      kernelSource('gemm_subgroup_matrix_direct', { consts }),
      'main',
      constants,
    );
    const { bm, bn } = tileOf(variant);
    return {
      variant,
      epilogue,
      pipeline,
      params: (M, N, K) => new Uint32Array([M, N, K, 0]).buffer,
      workgroups: (M, N) => [Math.ceil(N / bn), Math.ceil(M / bm), 1],
    };
  }
  const consts = { SG_M: variant.sgM, SG_N: variant.sgN, FM: variant.fm ?? 2, FN: variant.fn ?? 2 };
  const code = kernelSource('gemm_subgroup_matrix', { consts: { ...consts, BK: variant.bk ?? 32 } });
  const pipeline = await computePipeline(device, label, code, 'main', constants);
  const { bm, bn } = tileOf(variant);
  return {
    variant,
    epilogue,
    pipeline,
    params: (M, N, K) => new Uint32Array([M, N, K, 0]).buffer,
    workgroups: (M, N) => [Math.ceil(N / bn), Math.ceil(M / bm), 1],
  };
}
