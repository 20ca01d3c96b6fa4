import type { ViTConfig } from '../config.js';
import { vitDims } from '../config.js';
import { computePipeline, type ElementType, kernelSource } from './source.js';

/**
 * Attention variants: `portable` (kernels/attention.wgsl, one thread per query, any adapter, f32
 * or f16) and `subgroup-matrix` (kernels/attention_subgroup_matrix.wgsl, tensor cores, f16 only,
 * head dimension a multiple of 16).
 */
export type AttentionVariant = 'portable' | 'subgroup-matrix';

/** Fused multi-head attention over the packed qkv matrix. */
export interface AttentionKernel {
  variant: AttentionVariant;
  pipeline: GPUComputePipeline;
  /** Params struct {count, tokens, hidden: u32, scale: f32}. Bindings: params, qkv, out. */
  params(count: number): ArrayBuffer;
  workgroups(count: number): [number, number, number];
}

/** The attention problem of one model: tokens per image, heads, head dimension. */
export interface AttentionShape {
  tokens: number;
  numHeads: number;
  headDim: number;
}

export function attentionShape(config: ViTConfig): AttentionShape {
  const { tokens, headDim } = vitDims(config);
  return { tokens, numHeads: config.numHeads, headDim };
}

/** Whether a variant can run on this adapter, storage type and head dimension. */
export function attentionSupports(
  variant: AttentionVariant,
  hasF16TensorCores: boolean,
  type: ElementType,
  headDim: number,
): boolean {
  return variant === 'portable' || (hasF16TensorCores && type === 'f16' && headDim % 16 === 0);
}

const QUERIES_PORTABLE = 64;
/** Queries per workgroup of the tensor-core kernel (4 subgroups of 32 rows). */
const QUERIES_TENSOR = 128;
/** Key tile of the tensor-core kernel (its BKV): O leaves through a scratch this wide. */
const KEYS_TENSOR = 32;

export async function createAttentionKernel(
  device: GPUDevice,
  shape: ViTConfig | AttentionShape,
  type: ElementType,
  variant: AttentionVariant = 'portable',
  /** Tensor-core kernel only: a timing probe (kernels/attention_subgroup_matrix.wgsl PROBE; wrong results). */
  probe = 0,
): Promise<AttentionKernel> {
  const { tokens, numHeads, headDim } = 'tokens' in shape ? shape : attentionShape(shape);
  const hidden = numHeads * headDim;
  const tensor = variant === 'subgroup-matrix';
  const code = tensor
    ? kernelSource('attention_subgroup_matrix', {
        consts: { HEAD_DIM: headDim, PROBE: probe, OC: Math.min(headDim, KEYS_TENSOR) / 16 },
      })
    : kernelSource('attention', { elementType: type, consts: { HEAD_DIM: headDim } });
  const pipeline = await computePipeline(device, `attention-${variant}`, code);
  const queries = tensor ? QUERIES_TENSOR : QUERIES_PORTABLE;
  return {
    variant,
    pipeline,
    params(count) {
      const buf = new ArrayBuffer(16);
      new Uint32Array(buf, 0, 3).set([count, tokens, hidden]);
      new Float32Array(buf, 12, 1)[0] = 1 / Math.sqrt(headDim);
      return buf;
    },
    workgroups: (count) => [Math.ceil(tokens / queries), numHeads, count],
  };
}
