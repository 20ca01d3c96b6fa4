import { EngineError } from '../../errors.js';
import type { ViTConfig } from '../config.js';
import { vitDims } from '../config.js';
import { paramsLayout } from './params.js';
import { computePipeline, type ElementType, kernelSource } from './source.js';

export const ATTENTION_BINDINGS = ['params', 'qkv', 'out'] as const;

/** Params of both attention kernels. */
export const ATTENTION_PARAMS = paramsLayout([
  { name: 'count', type: 'u32' },
  { name: 'tokens', type: 'u32' },
  { name: 'hidden', type: 'u32', doc: 'D = heads * HEAD_DIM' },
  { name: 'scale', type: 'f32', doc: 'HEAD_DIM^-0.5 (times the q and k scales with INT8_IO)' },
  { name: 'outScale', type: 'f32', doc: 'INT8_IO: v scale / output scale' },
]);

/**
 * Attention variants: `portable` (kernels/attention.wgsl, one thread per query, any adapter, f32
 * or f16) and `subgroup-matrix` (kernels/attention_subgroup_matrix.wgsl, tensor cores, f16 only,
 * head dimension a multiple of 16).
 */
export type AttentionVariant = 'portable' | 'subgroup-matrix';

/**
 * What attention reads and writes: `float` (the element type of the engine) or `int8` (INT8 mode
 * 2: q, k, v packed int8 from the qkv GEMM, output packed int8 for the proj GEMM).
 */
export type AttentionIO = 'float' | 'int8';

/** Per-tensor scales of int8 attention: its q, k and v inputs and its output. */
export interface AttentionInt8Scales {
  q: number;
  k: number;
  v: number;
  out: number;
}

/** Fused multi-head attention over the packed qkv matrix. */
export interface AttentionKernel {
  variant: AttentionVariant;
  io: AttentionIO;
  pipeline: GPUComputePipeline;
  bindings: typeof ATTENTION_BINDINGS;
  /**
   * ATTENTION_PARAMS; int8 kernels need the layer's scales.
   */
  params(count: number, int8?: AttentionInt8Scales): ArrayBuffer;
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
  io: AttentionIO = 'float',
): Promise<AttentionKernel> {
  const { tokens, numHeads, headDim } = 'tokens' in shape ? shape : attentionShape(shape);
  const hidden = numHeads * headDim;
  const tensor = variant === 'subgroup-matrix';
  const int8 = io === 'int8';
  if (int8 && headDim % (tensor ? 16 : 4) !== 0)
    throw new EngineError(
      `${variant} int8 attention needs a head dimension that is a multiple of ${tensor ? 16 : 4}, got ${headDim}`,
    );
  const code = tensor
    ? kernelSource('attention_subgroup_matrix', {
        params: ATTENTION_PARAMS,
        consts: {
          HEAD_DIM: headDim,
          OC: Math.min(headDim, KEYS_TENSOR) / 16,
          INT8_IO: int8 ? 1 : 0,
        },
      })
    : kernelSource('attention', {
        elementType: type,
        params: ATTENTION_PARAMS,
        consts: { HEAD_DIM: headDim, INT8_IO: int8 ? 1 : 0 },
      });
  const pipeline = await computePipeline(device, `attention-${variant}${int8 ? '-int8' : ''}`, code);
  const queries = tensor ? QUERIES_TENSOR : QUERIES_PORTABLE;
  const headScale = 1 / Math.sqrt(headDim);
  return {
    variant,
    io,
    pipeline,
    bindings: ATTENTION_BINDINGS,
    params(count, scales) {
      if (int8 !== (scales !== undefined))
        throw new EngineError(`internal: ${io} attention params ${int8 ? 'need' : 'take no'} int8 scales`);
      const [scale, outScale] = scales
        ? [headScale * scales.q * scales.k, scales.v / scales.out]
        : [headScale, 1];
      return ATTENTION_PARAMS.pack({ count, tokens, hidden, scale, outScale });
    },
    workgroups: (count) => [Math.ceil(tokens / queries), numHeads, count],
  };
}
