import { EngineError } from '../../errors.js';
import { type ViTConfig, vitDims } from '../config.js';
import { PlanRecorder, recordEmbed, recordHeadInput, recordPreprocess } from '../forward-plan.js';
import { BufferUsage } from '../gpu.js';
import type { AttentionKernel } from '../kernels/attention.js';
import type { EmbedKernel } from '../kernels/embed.js';
import type { GemmKernel } from '../kernels/gemm.js';
import type { Int8GemmKernel } from '../kernels/gemm-int8.js';
import type { LayerNormKernel } from '../kernels/layernorm.js';
import type { LayerNormInt8Kernel } from '../kernels/layernorm-int8.js';
import type { PoolKernel } from '../kernels/pool.js';
import type { PreprocessKernel } from '../kernels/preprocess.js';
import type { QuantizeKernel } from '../kernels/quantize.js';
import type { Dispatch } from '../kernels/source.js';
import type { InputFormat } from '../types.js';
import type { Int8GpuWeights } from './int8-weights.js';
import type { Int8Role, Int8Scales } from './scales.js';

export type Int8Mode = 1 | 2;

export interface Int8Kernels {
  preprocess: PreprocessKernel;
  embed: EmbedKernel;
  layerNorm: LayerNormKernel;
  layerNormInt8: LayerNormInt8Kernel;
  pool: PoolKernel;
  /**
   * FP16 attention, or (its io 'int8', mode 2 with q, k, v scales) attention on int8: the qkv GEMM
   * quantises its output for it and it quantises its own output for proj, so no quantize pass
   * runs between them.
   */
  attention: AttentionKernel;
  quantize: QuantizeKernel;
  /**
   * The patch embedding and the head stay FP16 (small, and the head sets the logits' precision);
   * the patch GEMM's tile depends on the batch size.
   */
  patch(count: number): GemmKernel;
  head: GemmKernel;
  gemm(role: Int8Role, M: number): Int8GemmKernel;
}

/** Per-slot activations, sized for maxBatch at open. f16 unless named `...q` (packed int8). */
export interface Int8SlotBuffers {
  rgb: GPUBuffer;
  pixels?: GPUBuffer;
  /** Created on first use of YUV input: each frame's colour (packYuvColors). */
  yuvColors?: GPUBuffer;
  patches: GPUBuffer;
  patchOut: GPUBuffer;
  x: GPUBuffer;
  y: GPUBuffer;
  yq: GPUBuffer;
  qkv: GPUBuffer;
  att: GPUBuffer;
  hidden: GPUBuffer;
  hq: GPUBuffer;
  pooled: GPUBuffer;
  logits: GPUBuffer;
  readback: GPUBuffer;
  /** Bound to the GEMM output a kernel never writes (both outputs are always bound). */
  unused: GPUBuffer;
}

/**
 * Buffers a plan never touches are 16-byte placeholders: mode 2's f16 MLP hidden layer (fc1 writes
 * int8 for fc2), and with int8 attention the f16 qkv and attention output (q, k, v pass through hq
 * and attention writes yq): 113 + 85 + 28 MB per slot for ViT-B/16-384 at batch 32.
 */
export function allocateInt8Slot(
  device: GPUDevice,
  c: ViTConfig,
  maxBatch: number,
  label: string,
  mode: Int8Mode,
  int8Attention = false,
): Int8SlotBuffers {
  const { numPatches, tokens, patchDim } = vitDims(c);
  const D = c.hiddenSize;
  const rows = maxBatch * tokens;
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
  const make = (name: string, bytes: number, usage = storage) =>
    device.createBuffer({ label: `${label}.${name}`, size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
  return {
    rgb: make('rgb', maxBatch * c.imageSize * c.imageSize * 3),
    patches: make('patches', maxBatch * numPatches * patchDim * 2),
    patchOut: make('patchOut', maxBatch * numPatches * D * 2),
    x: make('x', rows * D * 2),
    y: make('y', rows * D * 2),
    yq: make('yq', rows * D),
    qkv: make('qkv', int8Attention ? 0 : rows * 3 * D * 2),
    att: make('att', int8Attention ? 0 : rows * D * 2),
    hidden: make('hidden', mode === 2 ? 0 : rows * c.mlpDim * 2),
    hq: make('hq', rows * Math.max(c.mlpDim, int8Attention ? 3 * D : 0)),
    pooled: make('pooled', maxBatch * D * 2),
    logits: make('logits', maxBatch * c.numClasses * 2),
    readback: make('readback', maxBatch * c.numClasses * 2, BufferUsage.MAP_READ | BufferUsage.COPY_DST),
    unused: make('unused', 16),
  };
}

export function destroyInt8Slot(s: Int8SlotBuffers): void {
  for (const b of Object.values(s)) (b as GPUBuffer | undefined)?.destroy();
}

export interface Int8Plan {
  dispatches: Dispatch[];
  uniforms: GPUBuffer[];
}

/**
 * Records one forward pass for one slot and batch size (uniforms and bind groups made once).
 * Mode 1: LayerNorm, attention and GELU write f16; a quantize pass makes each INT8 GEMM's
 * input; every INT8 GEMM dequantises to f16. Mode 2: LayerNorm writes int8 directly and fc1
 * quantises its GELU output in the epilogue for fc2; attention runs on int8 where the scales
 * have q, k, v ranges (else in FP16, with a quantize pass for proj).
 */
export function buildInt8Plan(
  device: GPUDevice,
  c: ViTConfig,
  mode: Int8Mode,
  k: Int8Kernels,
  w: Int8GpuWeights,
  scales: Int8Scales,
  s: Int8SlotBuffers,
  count: number,
  input: InputFormat,
): Int8Plan {
  const { tokens, numPatches, patchDim } = vitDims(c);
  const D = c.hiddenSize;
  const F = c.mlpDim;
  const rows = count * tokens;
  const rec = new PlanRecorder(device);
  const { uniforms, dispatches } = rec;
  const uniform = rec.uniform.bind(rec);
  const add = rec.add.bind(rec);
  const quantize = (label: string, src: GPUBuffer, dst: GPUBuffer, elements: number, scale: number) =>
    add(
      label,
      k.quantize.quantize,
      k.quantize.bindings,
      { params: uniform(label, k.quantize.params(elements, scale)), src, dst },
      k.quantize.workgroups(elements),
    );
  const int8Gemm = (
    label: string,
    role: Int8Role,
    layer: number,
    a: GPUBuffer,
    out: { f16?: GPUBuffer; q?: GPUBuffer },
    outScale?: number,
  ) => {
    const [K, N] = { qkv: [D, 3 * D], proj: [D, D], fc1: [D, F], fc2: [F, D] }[role];
    const kernel = k.gemm(role, rows);
    const lin = w.blocks[layer][role];
    const params = uniform(label, kernel.params(rows, N, K, scales.blocks[layer][role].scale, outScale));
    add(
      label,
      kernel.pipeline,
      kernel.bindings,
      {
        params,
        a,
        b: lin.kernel,
        wScale: lin.scale,
        bias: lin.bias,
        c: out.f16 ?? s.unused,
        cq: out.q ?? s.unused,
      },
      kernel.workgroups(rows, N),
    );
  };

  recordPreprocess(rec, k.preprocess, s, count, input);
  const patchRows = count * numPatches;
  const patch = k.patch(count);
  add(
    'embed.patch',
    patch.pipeline,
    patch.bindings,
    {
      params: uniform('patch', patch.params(patchRows, D, patchDim)),
      a: s.patches,
      b: w.patchKernel,
      bias: w.patchBias,
      c: s.patchOut,
    },
    patch.workgroups(patchRows, D),
  );
  recordEmbed(rec, k.embed, w, s, count);

  const ln = uniform('layernorm', k.layerNorm.params(rows, D, 1, c.layerNormEps));
  const int8Attention = k.attention.io === 'int8';
  if (int8Attention && (mode !== 2 || !scales.attention))
    throw new EngineError('internal: int8 attention planned outside mode 2 or without q, k, v scales');
  const attParams = int8Attention ? undefined : uniform('attention', k.attention.params(count));
  w.blocks.forEach((b, i) => {
    const L = `block${i}`;
    const sc = scales.blocks[i];
    // LayerNorm into the int8 input of the next GEMM: mode 1 normalises to f16 and quantises in a
    // second pass, mode 2 quantises inside the LayerNorm.
    const normToInt8 = (name: 'ln1' | 'ln2', role: 'qkv' | 'fc1', gamma: GPUBuffer, beta: GPUBuffer) => {
      if (mode === 1) {
        const { pipeline, bindings } = k.layerNorm;
        add(
          `${L}.${name}`,
          pipeline,
          bindings,
          { params: ln, x: s.x, gamma, beta, y: s.y },
          k.layerNorm.workgroups(rows),
        );
        quantize(`${L}.quantize-${role}`, s.y, s.yq, rows * D, sc[role].scale);
        return;
      }
      add(
        `${L}.${name}-int8`,
        k.layerNormInt8.pipeline,
        k.layerNormInt8.bindings,
        {
          params: uniform(`${L}.${name}`, k.layerNormInt8.params(rows, D, c.layerNormEps, sc[role].scale)),
          x: s.x,
          gamma,
          beta,
          y: s.yq,
        },
        k.layerNormInt8.workgroups(rows),
      );
    };
    normToInt8('ln1', 'qkv', b.ln1Scale, b.ln1Bias);
    if (int8Attention) {
      // q | k | v as int8 (the qkv weights' scales and bias carry each part's output scale, see
      // uploadInt8Weights), into hq, which fc1 fills only later in the block.
      int8Gemm(`${L}.qkv`, 'qkv', i, s.yq, { q: s.hq }, 1);
      const a = scales.attention![i];
      const p = uniform(
        `${L}.attention`,
        k.attention.params(count, { q: a.q.scale, k: a.k.scale, v: a.v.scale, out: sc.proj.scale }),
      );
      const { pipeline, bindings } = k.attention;
      add(
        `${L}.attention-int8`,
        pipeline,
        bindings,
        { params: p, qkv: s.hq, out: s.yq },
        k.attention.workgroups(count),
      );
    } else {
      int8Gemm(`${L}.qkv`, 'qkv', i, s.yq, { f16: s.qkv });
      const { pipeline, bindings } = k.attention;
      add(
        `${L}.attention`,
        pipeline,
        bindings,
        { params: attParams, qkv: s.qkv, out: s.att },
        k.attention.workgroups(count),
      );
      quantize(`${L}.quantize-proj`, s.att, s.yq, rows * D, sc.proj.scale);
    }
    int8Gemm(`${L}.proj`, 'proj', i, s.yq, { f16: s.x });
    normToInt8('ln2', 'fc1', b.ln2Scale, b.ln2Bias);
    if (mode === 1) {
      int8Gemm(`${L}.fc1`, 'fc1', i, s.yq, { f16: s.hidden });
      quantize(`${L}.quantize-fc2`, s.hidden, s.hq, rows * F, sc.fc2.scale);
    } else {
      int8Gemm(`${L}.fc1`, 'fc1', i, s.yq, { q: s.hq }, sc.fc2.scale);
    }
    int8Gemm(`${L}.fc2`, 'fc2', i, s.hq, { f16: s.x });
  });

  recordHeadInput(rec, c, k, w, s, count, ln);
  add(
    'head',
    k.head.pipeline,
    k.head.bindings,
    {
      params: uniform('head', k.head.params(count, c.numClasses, D)),
      a: s.pooled,
      b: w.headKernel,
      bias: w.headBias,
      c: s.logits,
    },
    k.head.workgroups(count, c.numClasses),
  );
  return { dispatches, uniforms };
}
