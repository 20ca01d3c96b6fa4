import type { ViTConfig } from './config.js';
import { vitDims } from './config.js';
import { BufferUsage } from './gpu.js';
import type { GpuWeights } from './gpu-weights.js';
import type { AttentionKernel } from './kernels/attention.js';
import type { EmbedKernel } from './kernels/embed.js';
import type { Epilogue, GemmKernel } from './kernels/gemm.js';
import type { LayerNormKernel } from './kernels/layernorm.js';
import type { PoolKernel } from './kernels/pool.js';
import type { PreprocessKernel } from './kernels/preprocess.js';
import {
  type BindingBuffers,
  type BindingNames,
  bindGroup,
  type Dispatch,
  type ElementType,
} from './kernels/source.js';
import type { InputFormat } from './types.js';

/** The GEMMs of a forward pass, by role. */
export type GemmRole = 'patch' | 'qkv' | 'proj' | 'fc1' | 'fc2' | 'head';

export interface Kernels {
  preprocess: PreprocessKernel;
  embed: EmbedKernel;
  layerNorm: LayerNormKernel;
  pool: PoolKernel;
  attention: AttentionKernel;
  /** The GEMM kernel for a role at a given M (the tuner may pick different tiles per batch size). */
  gemm(role: GemmRole, M: number): GemmKernel;
}

/** Per-slot activation buffers, sized for maxBatch once at open. */
export interface SlotBuffers {
  rgb: GPUBuffer;
  pixels?: GPUBuffer;
  /** Created on first use of YUV input: each frame's colour (packYuvColors). */
  yuvColors?: GPUBuffer;
  patches: GPUBuffer;
  patchOut: GPUBuffer;
  x: GPUBuffer;
  y: GPUBuffer;
  qkv: GPUBuffer;
  att: GPUBuffer;
  hidden: GPUBuffer;
  pooled: GPUBuffer;
  logits: GPUBuffer;
  readback: GPUBuffer;
  /** f32 split-K partial products, sized for the largest split-K GEMM; absent when none is. */
  gemmWorkspace?: GPUBuffer;
}

export function gemmShapes(
  c: ViTConfig,
): Record<
  GemmRole,
  { K: number; N: number; epilogue: Epilogue; rowsPerImage: 'patches' | 'tokens' | 'one' }
> {
  const { patchDim } = vitDims(c);
  const D = c.hiddenSize;
  const gelu: Epilogue = c.activation === 'gelu_tanh' ? 'bias-gelu-tanh' : 'bias-gelu-erf';
  return {
    patch: { K: patchDim, N: D, epilogue: 'bias', rowsPerImage: 'patches' },
    qkv: { K: D, N: 3 * D, epilogue: 'bias', rowsPerImage: 'tokens' },
    proj: { K: D, N: D, epilogue: 'bias-residual', rowsPerImage: 'tokens' },
    fc1: { K: D, N: c.mlpDim, epilogue: gelu, rowsPerImage: 'tokens' },
    fc2: { K: c.mlpDim, N: D, epilogue: 'bias-residual', rowsPerImage: 'tokens' },
    head: { K: D, N: c.numClasses, epilogue: 'bias', rowsPerImage: 'one' },
  };
}

export function gemmRows(c: ViTConfig, role: GemmRole, count: number): number {
  const { numPatches, tokens } = vitDims(c);
  const r = gemmShapes(c)[role].rowsPerImage;
  return count * (r === 'patches' ? numPatches : r === 'tokens' ? tokens : 1);
}

export function allocateSlot(
  device: GPUDevice,
  c: ViTConfig,
  maxBatch: number,
  type: ElementType,
  label: string,
  gemmWorkspaceBytes = 0,
): SlotBuffers {
  const { numPatches, tokens, patchDim } = vitDims(c);
  const el = type === 'f16' ? 2 : 4;
  const D = c.hiddenSize;
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
  const make = (name: string, elements: number, usage = storage, bytesPer = el) =>
    device.createBuffer({
      label: `${label}.${name}`,
      size: Math.max(16, Math.ceil((elements * bytesPer) / 16) * 16),
      usage,
    });
  return {
    rgb: make('rgb', maxBatch * c.imageSize * c.imageSize * 3, storage, 1),
    patches: make('patches', maxBatch * numPatches * patchDim),
    patchOut: make('patchOut', maxBatch * numPatches * D),
    x: make('x', maxBatch * tokens * D),
    y: make('y', maxBatch * tokens * D),
    qkv: make('qkv', maxBatch * tokens * 3 * D),
    att: make('att', maxBatch * tokens * D),
    hidden: make('hidden', maxBatch * tokens * c.mlpDim),
    pooled: make('pooled', maxBatch * D),
    logits: make('logits', maxBatch * c.numClasses),
    readback: make('readback', maxBatch * c.numClasses, BufferUsage.MAP_READ | BufferUsage.COPY_DST),
    gemmWorkspace: gemmWorkspaceBytes > 0 ? make('gemmWorkspace', gemmWorkspaceBytes, storage, 1) : undefined,
  };
}

export function destroySlot(s: SlotBuffers): void {
  for (const b of Object.values(s)) (b as GPUBuffer | undefined)?.destroy();
}

/** Stage boundaries inside a plan, for reading intermediate activations in tests. */
export interface PlanMarks {
  afterEmbed: number;
  afterBlock0: number;
  afterBlocks: number;
}

export interface ForwardPlan {
  dispatches: Dispatch[];
  marks: PlanMarks;
  uniforms: GPUBuffer[];
}

/**
 * Records the dispatch list of one forward pass for one slot and batch size: every uniform
 * buffer and bind group is created here, once, and replayed for each batch of that size.
 */
export function buildForwardPlan(
  device: GPUDevice,
  c: ViTConfig,
  k: Kernels,
  w: GpuWeights,
  s: SlotBuffers,
  count: number,
  input: InputFormat,
): ForwardPlan {
  const { tokens } = vitDims(c);
  const D = c.hiddenSize;
  const rec = new PlanRecorder(device);
  const { uniforms, dispatches } = rec;
  const uniform = rec.uniform.bind(rec);
  const add = rec.add.bind(rec);

  const shapes = gemmShapes(c);
  const gemmUniforms = new Map<string, GPUBuffer>();
  const gemm = (
    role: GemmRole,
    layer: string,
    a: GPUBuffer,
    b: GPUBuffer,
    bias: GPUBuffer,
    out: GPUBuffer,
  ) => {
    const M = gemmRows(c, role, count);
    const { K, N } = shapes[role];
    const kernel = k.gemm(role, M);
    const key = `${M}x${N}x${K}`;
    let p = gemmUniforms.get(key);
    if (!p) {
      p = uniform(`gemm ${key}`, kernel.params(M, N, K));
      gemmUniforms.set(key, p);
    }
    const buffers = { params: p, a, b, bias, c: out, workspace: s.gemmWorkspace };
    kernel.record(rec, `${layer}.${role}`, buffers, M, N);
  };

  recordPreprocess(rec, k.preprocess, s, count, input);
  gemm('patch', 'embed', s.patches, w.patchKernel, w.patchBias, s.patchOut);
  recordEmbed(rec, k.embed, w, s, count);
  const afterEmbed = dispatches.length;

  const rows = count * tokens;
  const lnAll = uniform('layernorm', k.layerNorm.params(rows, D, 1, c.layerNormEps));
  const attParams = uniform('attention', k.attention.params(count));
  let afterBlock0 = 0;
  w.blocks.forEach((b, i) => {
    const L = `block${i}`;
    const ln = k.layerNorm;
    const norm = (name: string, gamma: GPUBuffer, beta: GPUBuffer) =>
      add(
        `${L}.${name}`,
        ln.pipeline,
        ln.bindings,
        { params: lnAll, x: s.x, gamma, beta, y: s.y },
        ln.workgroups(rows),
      );
    norm('ln1', b.ln1Scale, b.ln1Bias);
    gemm('qkv', L, s.y, b.qkvKernel, b.qkvBias, s.qkv);
    add(
      `${L}.attention`,
      k.attention.pipeline,
      k.attention.bindings,
      { params: attParams, qkv: s.qkv, out: s.att },
      k.attention.workgroups(count),
    );
    gemm('proj', L, s.att, b.projKernel, b.projBias, s.x);
    norm('ln2', b.ln2Scale, b.ln2Bias);
    gemm('fc1', L, s.y, b.fc1Kernel, b.fc1Bias, s.hidden);
    gemm('fc2', L, s.hidden, b.fc2Kernel, b.fc2Bias, s.x);
    if (i === 0) afterBlock0 = dispatches.length;
  });
  const afterBlocks = dispatches.length;

  recordHeadInput(rec, c, k, w, s, count, lnAll);
  gemm('head', 'head', s.pooled, w.headKernel, w.headBias, s.logits);
  return { dispatches, marks: { afterEmbed, afterBlock0, afterBlocks }, uniforms };
}

/**
 * Collects a plan's dispatches and the uniform buffers they bind: one bind group per dispatch,
 * made here, once, when the plan is recorded.
 */
export class PlanRecorder {
  readonly dispatches: Dispatch[] = [];
  readonly uniforms: GPUBuffer[] = [];
  constructor(private readonly device: GPUDevice) {}

  /**
   * A uniform buffer holding `data` (a multiple of 4 bytes), filled through the queue rather than
   * mapped at creation: on a discrete GPU Dawn gives a mapped-at-creation buffer that the CPU
   * cannot map staging memory of its own, and on the H100 those createBuffer calls took 294 ms of
   * a 4.9 s classify run (CPU profile), plans being built for each new batch size.
   */
  uniform(label: string, data: ArrayBuffer): GPUBuffer {
    const b = this.device.createBuffer({
      label,
      size: Math.max(16, data.byteLength),
      usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(b, 0, data);
    this.uniforms.push(b);
    return b;
  }

  /** A dispatch of `pipeline`, its buffers bound by name (`names`: the kernel's bindings). */
  add<const N extends BindingNames>(
    label: string,
    pipeline: GPUComputePipeline,
    names: N,
    buffers: BindingBuffers<N>,
    workgroups: [number, number, number],
  ): void {
    this.dispatches.push({
      label,
      pipeline,
      bindGroup: bindGroup(this.device, label, pipeline, names, buffers),
      workgroups,
    });
  }
}

/** Frames (uint8 RGB or YUV, or float pixels) to the patch GEMM's A matrix, shared by the FP and INT8 plans. */
export function recordPreprocess(
  rec: PlanRecorder,
  pre: PreprocessKernel,
  s: { rgb: GPUBuffer; pixels?: GPUBuffer; yuvColors?: GPUBuffer; patches: GPUBuffer },
  count: number,
  input: InputFormat,
): void {
  const params = rec.uniform('preprocess', pre.params(count, input));
  const { patches } = s;
  const workgroups = pre.workgroups(count);
  if (input.kind === 'rgb')
    rec.add('preprocess-rgb', pre.fromRgb, pre.bindings, { params, rgb: s.rgb, patches }, workgroups);
  else if (input.kind === 'pixels')
    rec.add(
      'preprocess-pixels',
      pre.fromPixels,
      pre.bindings,
      { params, pixels: s.pixels, patches },
      workgroups,
    );
  // The slot's uint8 frame buffer holds YUV bytes as they came: RGB's size is twice what they need.
  else
    rec.add(
      `preprocess-${input.kind}`,
      pre.fromYuv,
      pre.bindings,
      { params, yuv: s.rgb, colors: s.yuvColors, patches },
      workgroups,
    );
}

/** Class token and position embedding onto the patch GEMM's output, shared by the FP and INT8 plans. */
export function recordEmbed(
  rec: PlanRecorder,
  embed: EmbedKernel,
  w: { cls: GPUBuffer; posEmbedding: GPUBuffer },
  s: { patchOut: GPUBuffer; x: GPUBuffer },
  count: number,
): void {
  const params = rec.uniform('embed', embed.params(count));
  rec.add(
    'embed',
    embed.pipeline,
    embed.bindings,
    { params, patchOut: s.patchOut, cls: w.cls, pos: w.posEmbedding, x: s.x },
    embed.workgroups(count),
  );
}

/**
 * The head's input, shared by the FP and INT8 plans. Google's order is final norm, then
 * pooling. With a class token only the class rows are normalised (stride = tokens); with mean
 * pooling every row must be, before the mean. `lnAll` is the LayerNorm uniform over all rows.
 */
export function recordHeadInput(
  rec: PlanRecorder,
  c: ViTConfig,
  k: Pick<Kernels, 'layerNorm' | 'pool'>,
  norm: { normScale?: GPUBuffer; normBias?: GPUBuffer },
  s: { x: GPUBuffer; y: GPUBuffer; pooled: GPUBuffer },
  count: number,
  lnAll: GPUBuffer,
): void {
  const { tokens } = vitDims(c);
  const D = c.hiddenSize;
  const mean = c.classifier === 'gap';
  const { layerNorm, pool } = k;
  const pooled = s.pooled;
  if (c.finalNorm && norm.normScale && norm.normBias) {
    const [gamma, beta] = [norm.normScale, norm.normBias];
    if (mean) {
      rec.add(
        'final-norm',
        layerNorm.pipeline,
        layerNorm.bindings,
        { params: lnAll, x: s.x, gamma, beta, y: s.y },
        layerNorm.workgroups(count * tokens),
      );
      const params = rec.uniform('pool', pool.params(count, tokens, D, true));
      rec.add('pool', pool.pipeline, pool.bindings, { params, x: s.y, pooled }, pool.workgroups(count, D));
    } else {
      const lnCls = rec.uniform('layernorm-cls', layerNorm.params(count, D, tokens, c.layerNormEps));
      rec.add(
        'final-norm',
        layerNorm.pipeline,
        layerNorm.bindings,
        { params: lnCls, x: s.x, gamma, beta, y: pooled },
        layerNorm.workgroups(count),
      );
    }
  } else {
    const params = rec.uniform('pool', pool.params(count, tokens, D, mean));
    rec.add('pool', pool.pipeline, pool.bindings, { params, x: s.x, pooled }, pool.workgroups(count, D));
  }
}

/**
 * A recorded forward pass in the two parts the engines submit it in (SlottedEngine.encodeForward):
 * its first quarter, then the rest.
 */
export function forwardParts(dispatches: Dispatch[]): [head: Dispatch[], tail: Dispatch[]] {
  const cut = Math.ceil(dispatches.length / 4);
  return [dispatches.slice(0, cut), dispatches.slice(cut)];
}

export function encodeDispatches(pass: GPUComputePassEncoder, dispatches: Dispatch[]): void {
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.workgroups);
  }
}
