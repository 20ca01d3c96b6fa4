import { computePipeline, kernelSource, type ElementType } from './source.js';

/** What a GEMM does after A·B: always adds the bias, then maybe GELU or a residual add. */
export type Epilogue = 'bias' | 'bias-gelu-erf' | 'bias-gelu-tanh' | 'bias-residual';
const EPILOGUE_CODE: Record<Epilogue, number> = { bias: 0, 'bias-gelu-erf': 1, 'bias-gelu-tanh': 2, 'bias-residual': 3 };

/**
 * A GEMM variant: `portable` (kernels/gemm.wgsl, any adapter, f32 or f16 storage) or
 * `subgroup-matrix` (kernels/gemm_subgroup_matrix.wgsl, tensor cores, f16 only) with its tile
 * shape in subgroups (sgM x sgN, each subgroup 32x32 outputs).
 */
export type GemmVariant = { kind: 'portable' } | { kind: 'subgroup-matrix'; sgM: number; sgN: number };

export function variantKey(v: GemmVariant): string {
  return v.kind === 'portable' ? 'portable' : `sgmat-${v.sgM}x${v.sgN}`;
}

export const SUBGROUP_MATRIX_TILES: GemmVariant[] = [
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2 },
  { kind: 'subgroup-matrix', sgM: 4, sgN: 2 },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4 },
  { kind: 'subgroup-matrix', sgM: 4, sgN: 4 },
];

/** Whether a variant can run a shape at all (vec4 loads need K and N multiples of 4). */
export function variantSupports(v: GemmVariant, type: ElementType, K: number, N: number): boolean {
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

export async function createGemmKernel(device: GPUDevice, type: ElementType, epilogue: Epilogue, variant: GemmVariant): Promise<GemmKernel> {
  const constants = { EPILOGUE: EPILOGUE_CODE[epilogue] };
  const label = `gemm-${variantKey(variant)}-${epilogue}`;
  if (variant.kind === 'portable') {
    const pipeline = await computePipeline(device, label, kernelSource('gemm', { elementType: type }), 'main', constants);
    return {
      variant, epilogue, pipeline,
      params: (M, N, K) => new Uint32Array([M, N, K, 0]).buffer,
      workgroups: (M, N) => [Math.ceil(N / 64), Math.ceil(M / 64), 1],
    };
  }
  const code = kernelSource('gemm_subgroup_matrix', { consts: { SG_M: variant.sgM, SG_N: variant.sgN } });
  const pipeline = await computePipeline(device, label, code, 'main', constants);
  const bm = 32 * variant.sgM;
  const bn = 32 * variant.sgN;
  return {
    variant, epilogue, pipeline,
    params: (M, N, K) => new Uint32Array([M, N, K, 0]).buffer,
    workgroups: (M, N) => [Math.ceil(N / bn), Math.ceil(M / bm), 1],
  };
}
