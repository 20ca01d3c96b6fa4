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

/**
 * Designs of the tensor-core kernel (issue #23), each a template constant, all off by default:
 * - `directKv` (DIRECT_KV, key suffix `-dkv`): full key tiles' K and V fragments are loaded straight
 *   from storage, without staging or barriers for them; a ragged last tile is staged. f16 only.
 * - `kt64` (KT64, `-kt64`): 64-key tiles with f16 scores from a pre-scaled Q, P written over the
 *   scores, K and V staged one after the other in one tile.
 * - `subgroups` (QSG, `-q<n>`): subgroups of 32 query rows per workgroup, 4 by default; more fit the
 *   workgroup memory only with kt64.
 */
export interface AttentionDesign {
  directKv?: boolean;
  kt64?: boolean;
  subgroups?: number;
}

const DEFAULT_SUBGROUPS = 4;

/** `attention` or `attention-int8`, then the design's suffixes (the timing scripts' keys). */
export function attentionKey(io: AttentionIO, design: AttentionDesign = {}): string {
  const q = design.subgroups ?? DEFAULT_SUBGROUPS;
  return `attention${io === 'int8' ? '-int8' : ''}${design.directKv ? '-dkv' : ''}${design.kt64 ? '-kt64' : ''}${q === DEFAULT_SUBGROUPS ? '' : `-q${q}`}`;
}

/** Inverse of attentionKey; undefined for a key it does not know. */
export function parseAttentionKey(key: string): { io: AttentionIO; design: AttentionDesign } | undefined {
  const m = /^attention(-int8)?(-dkv)?(-kt64)?(?:-q(\d+))?$/.exec(key);
  if (!m) return undefined;
  const design: AttentionDesign = {};
  if (m[2]) design.directKv = true;
  if (m[3]) design.kt64 = true;
  if (m[4]) design.subgroups = Number(m[4]);
  return { io: m[1] ? 'int8' : 'float', design };
}

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
/** Query rows per subgroup of the tensor-core kernel (its ROWS: one per lane in the softmax). */
const ROWS_TENSOR = 32;
/** Key tile of the tensor-core kernel (its BKV): O leaves through a scratch this wide. */
const KEYS_TENSOR = 32;

/**
 * Workgroup bytes of the tensor-core kernel, as its WGSL sizes its tiles: the K and V tiles (one
 * with kt64), the P tile (which first holds Q), the f32 scratch and the max votes.
 */
export function attentionWorkgroupBytes(headDim: number, design: AttentionDesign, oc: number): number {
  const keys = design.kt64 ? 64 : KEYS_TENSOR;
  const rows = ROWS_TENSOR * (design.subgroups ?? DEFAULT_SUBGROUPS);
  const skv = headDim + 8;
  const kv = (design.kt64 ? 1 : 2) * keys * skv * 2;
  const p = rows * Math.max(skv, keys + 8) * 2;
  const scratch = rows * ((design.kt64 ? 16 * oc : keys) + 4) * 4;
  return kv + p + scratch + 4 * (design.subgroups ?? DEFAULT_SUBGROUPS);
}

/**
 * The tensor-core kernel's WGSL for a head dimension, io and design. Throws an EngineError naming
 * the design's key where the design cannot run: direct K/V with int8 io, a subgroup count out of
 * 4..8, or tiles past `workgroupBytes`.
 */
export function attentionTensorSource(
  headDim: number,
  io: AttentionIO,
  design: AttentionDesign = {},
  workgroupBytes = 48 * 1024,
): string {
  const key = attentionKey(io, design);
  const subgroups = design.subgroups ?? DEFAULT_SUBGROUPS;
  if (design.directKv && io === 'int8')
    throw new EngineError(
      `attention design ${key}: direct K/V needs f16 in storage (int8 becomes f16 when staged)`,
      {
        input: key,
      },
    );
  // Fewer than 4 subgroups gave wrong results on an H100 (docs/kernels.md).
  if (!Number.isInteger(subgroups) || subgroups < 4 || subgroups > 8)
    throw new EngineError(`attention design ${key}: subgroups must be 4 to 8, got ${subgroups}`, {
      input: key,
    });
  // O leaves through OC fragments at a time; with kt64 the scratch is only that wide, so fewer
  // fragments per pass make room for more queries.
  let oc = Math.min(headDim, KEYS_TENSOR) / 16;
  if (design.kt64 && oc > 1 && attentionWorkgroupBytes(headDim, design, oc) > workgroupBytes) oc = 1;
  const bytes = attentionWorkgroupBytes(headDim, design, oc);
  if (bytes > workgroupBytes)
    throw new EngineError(
      `attention design ${key}: needs ${bytes} bytes of workgroup memory at head dimension ${headDim}, the adapter has ${workgroupBytes}`,
      { input: key },
    );
  return kernelSource('attention_subgroup_matrix', {
    params: ATTENTION_PARAMS,
    consts: {
      HEAD_DIM: headDim,
      OC: oc,
      INT8_IO: io === 'int8' ? 1 : 0,
      DIRECT_KV: design.directKv ? 1 : 0,
      KT64: design.kt64 ? 1 : 0,
      BKV: design.kt64 ? 64 : KEYS_TENSOR,
      QSG: subgroups,
    },
  });
}

export async function createAttentionKernel(
  device: GPUDevice,
  shape: ViTConfig | AttentionShape,
  type: ElementType,
  variant: AttentionVariant = 'portable',
  io: AttentionIO = 'float',
  design: AttentionDesign = {},
): Promise<AttentionKernel> {
  const { tokens, numHeads, headDim } = 'tokens' in shape ? shape : attentionShape(shape);
  const hidden = numHeads * headDim;
  const tensor = variant === 'subgroup-matrix';
  const int8 = io === 'int8';
  if (int8 && headDim % (tensor ? 16 : 4) !== 0)
    throw new EngineError(
      `${variant} int8 attention needs a head dimension that is a multiple of ${tensor ? 16 : 4}, got ${headDim}`,
    );
  const designed = attentionKey(io, design) !== attentionKey(io);
  if (designed && !tensor)
    throw new EngineError(`attention design ${attentionKey(io, design)} is for the subgroup-matrix kernel`, {
      input: attentionKey(io, design),
    });
  const code = tensor
    ? attentionTensorSource(headDim, io, design, device.limits.maxComputeWorkgroupStorageSize)
    : kernelSource('attention', {
        elementType: type,
        params: ATTENTION_PARAMS,
        consts: { HEAD_DIM: headDim, INT8_IO: int8 ? 1 : 0 },
      });
  const label = tensor && designed ? attentionKey(io, design) : `attention-${variant}${int8 ? '-int8' : ''}`;
  const pipeline = await computePipeline(device, label, code);
  const queries = tensor ? ROWS_TENSOR * (design.subgroups ?? DEFAULT_SUBGROUPS) : QUERIES_PORTABLE;
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
