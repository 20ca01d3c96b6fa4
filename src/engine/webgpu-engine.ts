import { EngineError, GpuUnavailableError } from '../errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import type { ViTConfig } from './config.js';
import { vitDims } from './config.js';
import {
  allocateSlot,
  buildForwardPlan,
  destroySlot,
  encodeDispatches,
  type ForwardPlan,
  type GemmRole,
  gemmRows,
  gemmShapes,
  type Kernels,
  type SlotBuffers,
} from './forward-plan.js';
import { defaultTensorPolicy, type GemmPolicy } from './gemm-policy.js';
import { BufferUsage, type GpuContext, MapMode, type OpenGpuOptions, openGpu } from './gpu.js';
import { type GpuWeights, uploadWeights } from './gpu-weights.js';
import {
  type AttentionDesign,
  type AttentionVariant,
  attentionSupports,
  createAttentionKernel,
} from './kernels/attention.js';
import { createEmbedKernel } from './kernels/embed.js';
import {
  createGemmKernel,
  type GemmKernel,
  type GemmVariant,
  unsplit,
  variantKey,
  variantSupports,
  workspaceBytes,
} from './kernels/gemm.js';
import { createLayerNormKernel } from './kernels/layernorm.js';
import { createPoolKernel } from './kernels/pool.js';
import { createPreprocessKernel } from './kernels/preprocess.js';
import { bindGroup, type ElementType } from './kernels/source.js';
import type { Observe, ObservedPoint } from './observe.js';
import { SlottedEngine } from './slotted-engine.js';
import type { EngineInput, InputFormat, ViTWeights } from './types.js';

export interface WebGpuEngineOptions {
  config: ViTConfig;
  weights: ViTWeights;
  precision?: 'fp32' | 'fp16';
  maxBatch?: number;
  gpu?: GpuContext;
  gpuOptions?: OpenGpuOptions;
  /** 'auto' (default): tensor cores where the adapter has them, else portable. */
  gemm?: 'auto' | 'portable' | 'subgroup-matrix' | GemmPolicy;
  /** 'auto' (default): the tensor-core kernel where the adapter has f16 subgroup matrices, else portable. */
  attention?: 'auto' | AttentionVariant;
  /** Design of the tensor-core attention (default: none of its options); an EngineError where it cannot run. */
  attentionDesign?: AttentionDesign;
  logger?: Logger;
}

/** Intermediate activations a test can read back, by stage. */
export type CaptureStage = 'embeddings' | 'block0' | 'features';

/**
 * A persistent ViT on one GPUDevice. Everything that can be is created at open: weights
 * uploaded once, pipelines compiled once, two slots of activation buffers. Dispatch plans are
 * recorded per slot and batch size on first use and replayed after. Consecutive infer() calls
 * alternate slots, so batch k+1 is uploaded and batch k-1 read back while batch k runs.
 */
export class WebGpuEngine extends SlottedEngine<SlotBuffers, ForwardPlan> {
  readonly precision: 'fp32' | 'fp16';
  /** GEMM variant picked per role (at maxBatch), for reports. */
  readonly gemmChoices: Record<string, string> = {};
  /** Attention kernel in use, for reports. */
  attentionChoice: AttentionVariant = 'portable';
  private readonly type: ElementType;

  private constructor(
    gpu: GpuContext,
    config: ViTConfig,
    precision: 'fp32' | 'fp16',
    maxBatch: number,
    private readonly kernels: Kernels,
    private readonly weights: GpuWeights,
    logger: Logger,
    gemmWorkspaceBytes: number,
  ) {
    const type: ElementType = precision === 'fp16' ? 'f16' : 'f32';
    super(
      gpu,
      config,
      maxBatch,
      type,
      (label) => allocateSlot(gpu.device, config, maxBatch, type, label, gemmWorkspaceBytes),
      logger,
    );
    this.precision = precision;
    this.type = type;
  }

  protected get weightBytes(): number {
    return this.weights.bytes;
  }

  protected destroyWeights(): void {
    this.weights.destroy();
  }

  protected destroyBuffers(buffers: SlotBuffers): void {
    destroySlot(buffers);
  }

  protected recordPlan(buffers: SlotBuffers, count: number, input: InputFormat): ForwardPlan {
    return buildForwardPlan(this.gpu.device, this.config, this.kernels, this.weights, buffers, count, input);
  }

  static async open(opts: WebGpuEngineOptions): Promise<WebGpuEngine> {
    const logger = opts.logger ?? silentLogger;
    const precision = opts.precision ?? 'fp16';
    const maxBatch = opts.maxBatch ?? 32;
    if (!Number.isInteger(maxBatch) || maxBatch < 1)
      throw new EngineError(`maxBatch must be a positive integer, got ${maxBatch}`);
    const gpu = opts.gpu ?? (await openGpu(opts.gpuOptions));
    if (precision === 'fp16' && !gpu.features.has('shader-f16'))
      throw new GpuUnavailableError(
        `precision fp16 needs the shader-f16 feature, which adapter "${gpu.info.description}" lacks; use --precision fp32`,
      );
    const type: ElementType = precision === 'fp16' ? 'f16' : 'f32';
    const config = opts.config;
    const policy = resolvePolicy(opts.gemm ?? 'auto', gpu, type);
    const attentionVariant = resolveAttention(opts.attention ?? 'auto', gpu, type, vitDims(config).headDim);
    const device = gpu.device;
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    const [preprocess, embed, layerNorm, pool, attention] = await Promise.all([
      createPreprocessKernel(device, config, type),
      createEmbedKernel(device, config, type),
      createLayerNormKernel(device, type, config.hiddenSize),
      createPoolKernel(device, type),
      createAttentionKernel(device, config, type, attentionVariant, 'float', opts.attentionDesign),
    ]);
    // GEMM pipelines, one per (epilogue, variant) actually used, compiled once.
    const shapes = gemmShapes(config);
    const compiled = new Map<string, Promise<GemmKernel>>();
    // Split-K's workspace is one buffer per slot; a split whose workspace would not fit one
    // binding runs unsplit instead.
    const maxWorkspace = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    const gemmFor = (role: GemmRole, M: number) => {
      const { K, N, epilogue } = shapes[role];
      let v = policy(role, M, N, K);
      if (workspaceBytes(v, M, N) > maxWorkspace) v = unsplit(v);
      const variant = variantSupports(v, type, K, N) ? v : ({ kind: 'portable' } as const);
      const key = `${variantKey(variant)}/${epilogue}`;
      if (!compiled.has(key)) compiled.set(key, createGemmKernel(device, type, epilogue, variant));
      return { key, promise: compiled.get(key)! };
    };
    // Resolve every role at every batch size up front so no compile happens mid-stream.
    const rolesAt = new Map<string, string>();
    for (let n = 1; n <= maxBatch; n++) {
      for (const role of Object.keys(shapes) as GemmRole[]) {
        const M = gemmRows(config, role, n);
        rolesAt.set(`${role}@${M}`, gemmFor(role, M).key);
      }
    }
    const ready = new Map<string, GemmKernel>();
    await Promise.all([...compiled].map(async ([key, p]) => ready.set(key, await p)));
    const kernels: Kernels = {
      preprocess,
      embed,
      layerNorm,
      pool,
      attention,
      gemm: (role, M) => {
        const key = rolesAt.get(`${role}@${M}`) ?? gemmFor(role, M).key;
        const k = ready.get(key);
        if (!k) throw new EngineError(`internal: GEMM ${key} for ${role} at M=${M} was not compiled`);
        return k;
      },
    };
    let gemmWorkspaceBytes = 0;
    for (let n = 1; n <= maxBatch; n++) {
      for (const role of Object.keys(shapes) as GemmRole[]) {
        const M = gemmRows(config, role, n);
        gemmWorkspaceBytes = Math.max(
          gemmWorkspaceBytes,
          kernels.gemm(role, M).workspaceBytes(M, shapes[role].N),
        );
      }
    }
    const weights = uploadWeights(device, opts.weights, type);
    const engine = new WebGpuEngine(
      gpu,
      config,
      precision,
      maxBatch,
      kernels,
      weights,
      logger,
      gemmWorkspaceBytes,
    );
    for (const role of Object.keys(shapes) as GemmRole[])
      engine.gemmChoices[role] = variantKey(kernels.gemm(role, gemmRows(config, role, maxBatch)).variant);
    engine.attentionChoice = attentionVariant;
    const oom = await device.popErrorScope();
    const invalid = await device.popErrorScope();
    if (oom || invalid) {
      await engine.close();
      throw new EngineError(
        `could not set up the engine on ${gpu.info.description}: ${(oom ?? invalid)!.message}` +
          (oom ? ` (out of GPU memory: lower --max-batch, now ${maxBatch})` : ''),
      );
    }
    logger.debug(
      { adapter: gpu.info, precision, maxBatch, gemm: engine.gemmChoices, weightBytes: weights.bytes },
      'engine open',
    );
    return engine;
  }

  /**
   * Runs one batch and hands `observe` every activation the INT8 engine quantises — per block the
   * inputs of qkv (LayerNorm 1), proj (attention), fc1 (LayerNorm 2) and fc2 (GELU), [rows, K],
   * and the qkv output that feeds attention, [rows, 3D], as float32 — the calibration pass of
   * `vitstream calibrate` on the GPU. The recorded plan runs unchanged; its compute pass is split
   * after those dispatches to copy their outputs out. Returns the logits.
   */
  async observe(input: EngineInput, observe: Observe): Promise<Float32Array> {
    this.check(input);
    const slot = this.slots[0];
    await Promise.all(this.slots.map((s) => s.busy));
    const plan = this.plan(slot, input);
    const rows = input.count * vitDims(this.config).tokens;
    const D = this.config.hiddenSize;
    const el = this.type === 'f16' ? 2 : 4;
    const b = slot.buffers;
    // Copy sizes round up to 4 bytes (f16 rows x K may end on half a word).
    const points: { layer: number; role: ObservedPoint; src: GPUBuffer; K: number; bytes: number }[] = [];
    const after = new Map<number, (typeof points)[number]>();
    for (let l = 0; l < this.config.numLayers; l++) {
      const at = (prefix: string, role: ObservedPoint, src: GPUBuffer, K: number) => {
        const i = plan.dispatches.findLastIndex(
          (d) => d.label === `block${l}.${prefix}` || d.label.startsWith(`block${l}.${prefix}.`),
        );
        if (i < 0) throw new EngineError(`calibration: no dispatch block${l}.${prefix} in the plan`);
        const point = { layer: l, role, src, K, bytes: Math.ceil((rows * K * el) / 4) * 4 };
        points.push(point);
        after.set(i, point);
      };
      at('ln1', 'qkv', b.y, D);
      at('qkv', 'attention', b.qkv, 3 * D);
      at('attention', 'proj', b.att, D);
      at('ln2', 'fc1', b.y, D);
      at('fc1', 'fc2', b.hidden, this.config.mlpDim);
    }
    const logitBytes = this.logitsBytes(input.count);
    const total = points.reduce((a, p) => a + p.bytes, 0) + logitBytes;
    const device = this.gpu.device;
    const rb = device.createBuffer({ size: total, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    try {
      const enc = device.createCommandEncoder();
      await this.upload(slot, input, enc);
      let pass = enc.beginComputePass();
      let offset = 0;
      plan.dispatches.forEach((d, i) => {
        encodeDispatches(pass, [d]);
        const point = after.get(i);
        if (!point) return;
        pass.end();
        enc.copyBufferToBuffer(point.src, 0, rb, offset, point.bytes);
        offset += point.bytes;
        pass = enc.beginComputePass();
      });
      pass.end();
      enc.copyBufferToBuffer(b.logits, 0, rb, offset, logitBytes);
      device.queue.submit([enc.finish()]);
      this.submitted(slot, input);
      await rb.mapAsync(MapMode.READ);
      const range = rb.getMappedRange();
      let o = 0;
      for (const p of points) {
        observe(p.layer, p.role, this.readFloats(range, rows * p.K, o));
        o += p.bytes;
      }
      return this.readFloats(range, input.count * this.config.numClasses, o);
    } finally {
      rb.destroy();
    }
  }

  /** Runs the forward pass up to `stage` and returns that activation ([count, T, D] float32). */
  async capture(input: EngineInput, stage: CaptureStage): Promise<Float32Array> {
    this.check(input);
    const slot = this.slots[0];
    await Promise.all(this.slots.map((s) => s.busy));
    const plan = this.plan(slot, input);
    const { tokens } = vitDims(this.config);
    const D = this.config.hiddenSize;
    const upto =
      stage === 'embeddings'
        ? plan.marks.afterEmbed
        : stage === 'block0'
          ? plan.marks.afterBlock0
          : plan.marks.afterBlocks;
    const device = this.gpu.device;
    const enc = device.createCommandEncoder();
    await this.upload(slot, input, enc);
    const pass = enc.beginComputePass();
    encodeDispatches(pass, plan.dispatches.slice(0, upto));
    if (stage === 'features') {
      // The plan normalises only what the head needs; tests want every token normalised.
      const k = this.kernels.layerNorm;
      const params = device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
      device.queue.writeBuffer(params, 0, k.params(input.count * tokens, D, 1, this.config.layerNormEps));
      pass.setPipeline(k.pipeline);
      pass.setBindGroup(
        0,
        bindGroup(device, 'features', k.pipeline, k.bindings, {
          params,
          x: slot.buffers.x,
          gamma: this.weights.normScale,
          beta: this.weights.normBias,
          y: slot.buffers.y,
        }),
      );
      pass.dispatchWorkgroups(...k.workgroups(input.count * tokens));
    }
    pass.end();
    const src = stage === 'features' ? slot.buffers.y : slot.buffers.x;
    const elements = input.count * tokens * D;
    const bytes = elements * (this.type === 'f16' ? 2 : 4);
    const rb = device.createBuffer({
      size: Math.ceil(bytes / 4) * 4,
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
    });
    enc.copyBufferToBuffer(src, 0, rb, 0, rb.size);
    device.queue.submit([enc.finish()]);
    this.submitted(slot, input);
    await rb.mapAsync(MapMode.READ);
    const out = this.readFloats(rb.getMappedRange(), elements);
    rb.destroy();
    return out;
  }
}

function resolveAttention(
  choice: 'auto' | AttentionVariant,
  gpu: GpuContext,
  type: ElementType,
  headDim: number,
): AttentionVariant {
  const tensor = attentionSupports('subgroup-matrix', gpu.hasF16TensorCores, type, headDim);
  if (choice === 'subgroup-matrix' && !tensor)
    throw new GpuUnavailableError(
      `the subgroup-matrix attention needs fp16, a head dimension that is a multiple of 16 (here ${headDim}) and an adapter with f16 subgroup matrices; "${gpu.info.description}" ${gpu.hasF16TensorCores ? 'has them' : 'has none'}`,
    );
  return choice === 'auto' ? (tensor ? 'subgroup-matrix' : 'portable') : choice;
}

function resolvePolicy(
  choice: NonNullable<WebGpuEngineOptions['gemm']>,
  gpu: GpuContext,
  type: ElementType,
): GemmPolicy {
  if (typeof choice === 'function') return choice;
  const portable: GemmVariant = { kind: 'portable' };
  const tensor = defaultTensorPolicy(gpu);
  if (choice === 'portable') return () => portable;
  if (choice === 'subgroup-matrix') {
    if (!gpu.hasF16TensorCores || type !== 'f16')
      throw new GpuUnavailableError(
        `the subgroup-matrix GEMM needs fp16 and an adapter with f16 subgroup matrices and 32-wide subgroups; "${gpu.info.description}" has ${gpu.hasF16TensorCores ? 'them, but precision is fp32' : 'none'}`,
      );
    return tensor;
  }
  return gpu.hasF16TensorCores && type === 'f16' ? tensor : () => portable;
}
