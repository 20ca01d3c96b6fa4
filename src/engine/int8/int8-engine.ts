import { EngineError, GpuUnavailableError } from '../../errors.js';
import { type Logger, silentLogger } from '../../util/logger.js';
import type { ViTConfig } from '../config.js';
import { vitDims } from '../config.js';
import { defaultTensorPolicy } from '../gemm-policy.js';
import { type GpuContext, type OpenGpuOptions, openGpu } from '../gpu.js';
import { type AttentionDesign, attentionSupports, createAttentionKernel } from '../kernels/attention.js';
import { createEmbedKernel } from '../kernels/embed.js';
import {
  createGemmKernel,
  type GemmKernel,
  type GemmVariant,
  variantKey,
  variantSupports,
} from '../kernels/gemm.js';
import {
  createInt8GemmKernel,
  type Int8GemmKernel,
  int8VariantKey,
  int8VariantSupports,
} from '../kernels/gemm-int8.js';
import { createLayerNormKernel } from '../kernels/layernorm.js';
import { createLayerNormInt8Kernel } from '../kernels/layernorm-int8.js';
import { createPoolKernel } from '../kernels/pool.js';
import { createPreprocessKernel } from '../kernels/preprocess.js';
import { createQuantizeKernel } from '../kernels/quantize.js';
import { SlottedEngine } from '../slotted-engine.js';
import type { InputFormat, ViTWeights } from '../types.js';
import {
  allocateInt8Slot,
  buildInt8Plan,
  destroyInt8Slot,
  type Int8Kernels,
  type Int8Mode,
  type Int8Plan,
  type Int8SlotBuffers,
} from './int8-plan.js';
import { defaultTile, type Int8GemmPolicy, int8Shapes } from './int8-policy.js';
import { type Int8GpuWeights, uploadInt8Weights } from './int8-weights.js';
import { INT8_ROLES, type Int8Role, type Int8Scales, validateScales } from './scales.js';

export interface Int8EngineOptions {
  config: ViTConfig;
  weights: ViTWeights;
  scales: Int8Scales;
  mode?: Int8Mode;
  maxBatch?: number;
  gpu?: GpuContext;
  gpuOptions?: OpenGpuOptions;
  /**
   * 'auto' (default): i8 tensor cores where the adapter has them (tile by size), else dot4;
   * 'dot4' or 'subgroup-matrix' to force one kind; or a policy (e.g. from `tuneInt8Gemms`).
   */
  gemm?: 'auto' | 'dot4' | 'subgroup-matrix' | Int8GemmPolicy;
  /**
   * Mode 2: attention on int8 q, k, v with an int8 output (default where the scales have q, k, v
   * ranges and the head dimension is a multiple of 4), or false for FP16 attention.
   */
  int8Attention?: boolean;
  /** Design of the tensor-core attention (default: none of its options); an EngineError where it cannot run. */
  attentionDesign?: AttentionDesign;
  logger?: Logger;
}

/**
 * The ViT forward pass with its four block GEMMs (qkv, proj, fc1, fc2) in INT8, like
 * FasterTransformer's INT8 ViT: weights per output channel, activations per tensor with
 * calibrated scales, int32 accumulation. Patch embedding, LayerNorm and the head run in FP16
 * with the FP16 engine's kernels; attention too in mode 1, on int8 q, k, v in mode 2. Same
 * design as WebGpuEngine: everything created at open, two I/O slots, one recorded plan per slot
 * and batch size.
 */
export class Int8Engine extends SlottedEngine<Int8SlotBuffers, Int8Plan> {
  readonly precision = 'int8' as const;
  readonly int8Mode: Int8Mode;
  /** INT8 GEMM variant per role (at maxBatch), for reports. */
  readonly gemmChoices: Record<string, string> = {};
  /** Why the tensor-core path was not used, when 'auto' fell back to dot4. */
  gemmFallback?: string;

  private constructor(
    gpu: GpuContext,
    config: ViTConfig,
    mode: Int8Mode,
    maxBatch: number,
    private readonly kernels: Int8Kernels,
    private readonly weights: Int8GpuWeights,
    private readonly scales: Int8Scales,
    logger: Logger,
  ) {
    super(
      gpu,
      config,
      maxBatch,
      'f16',
      (label) =>
        allocateInt8Slot(
          gpu.device,
          config,
          maxBatch,
          `int8-${label}`,
          mode,
          kernels.attention.io === 'int8',
        ),
      logger,
    );
    this.int8Mode = mode;
  }

  protected get weightBytes(): number {
    return this.weights.bytes;
  }

  protected destroyWeights(): void {
    this.weights.destroy();
  }

  protected destroyBuffers(buffers: Int8SlotBuffers): void {
    destroyInt8Slot(buffers);
  }

  protected recordPlan(buffers: Int8SlotBuffers, count: number, input: InputFormat): Int8Plan {
    return buildInt8Plan(
      this.gpu.device,
      this.config,
      this.int8Mode,
      this.kernels,
      this.weights,
      this.scales,
      buffers,
      count,
      input,
    );
  }

  static async open(opts: Int8EngineOptions): Promise<Int8Engine> {
    const logger = opts.logger ?? silentLogger;
    const mode = opts.mode ?? 1;
    if (mode !== 1 && mode !== 2) throw new EngineError(`int8 mode must be 1 or 2, got ${mode}`);
    const maxBatch = opts.maxBatch ?? 32;
    if (!Number.isInteger(maxBatch) || maxBatch < 1)
      throw new EngineError(`maxBatch must be a positive integer, got ${maxBatch}`);
    const config = opts.config;
    const scales = validateScales(opts.scales, 'int8 scales', config);
    const D = config.hiddenSize;
    if (D % 4 !== 0 || config.mlpDim % 4 !== 0)
      throw new EngineError(
        `model ${config.name}: INT8 needs hidden size and MLP size multiples of 4 (got ${D}, ${config.mlpDim})`,
      );
    const gpu = opts.gpu ?? (await openGpu(opts.gpuOptions));
    if (!gpu.features.has('shader-f16'))
      throw new GpuUnavailableError(
        `precision int8 keeps FP16 activations and needs shader-f16, which adapter "${gpu.info.description}" lacks`,
      );
    const device = gpu.device;
    const choice = opts.gemm ?? 'auto';
    if (choice === 'subgroup-matrix' && !gpu.hasI8TensorCores)
      throw new GpuUnavailableError(
        `the subgroup-matrix INT8 GEMM needs i8 subgroup matrices (16x16x32) and 32-wide subgroups; "${gpu.info.description}" has none`,
      );
    // Tensor cores read K and N in 16s: a model whose sizes are not runs dot4 throughout.
    const fits =
      int8VariantSupports({ kind: 'subgroup-matrix', sgM: 2, sgN: 2, fm: 2, fn: 2 }, D, D) &&
      config.mlpDim % 16 === 0;
    if (choice === 'subgroup-matrix' && !fits)
      throw new EngineError(
        `model ${config.name}: the INT8 tensor-core GEMM needs hidden and MLP sizes that are multiples of 16 (got ${D}, ${config.mlpDim}); use dot4`,
      );
    const useTensorCores =
      typeof choice === 'function'
        ? true
        : choice === 'subgroup-matrix' || (choice === 'auto' && gpu.hasI8TensorCores && fits);
    const policy: Int8GemmPolicy =
      typeof choice === 'function'
        ? choice
        : useTensorCores
          ? (_r, M, N) => defaultTile(M, N)
          : () => ({ kind: 'dot4' });

    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    const fp16Gemm: GemmVariant = gpu.hasF16TensorCores
      ? { kind: 'subgroup-matrix', sgM: 2, sgN: 2 }
      : { kind: 'portable' };
    const { patchDim, headDim } = vitDims(config);
    // The FP16 engine's attention: tensor cores where it can, else the portable kernel.
    const attentionVariant = attentionSupports('subgroup-matrix', gpu.hasF16TensorCores, 'f16', headDim)
      ? 'subgroup-matrix'
      : 'portable';
    const int8Attention =
      mode === 2 && opts.int8Attention !== false && !!scales.attention && headDim % 4 === 0;
    if (mode === 2 && opts.int8Attention !== false && !int8Attention)
      logger.info(
        scales.attention
          ? { headDim }
          : { hint: 'calibrate again (vitstream calibrate) for int8 attention, which is faster' },
        scales.attention
          ? 'int8 attention needs a head dimension that is a multiple of 4: attention stays FP16'
          : 'scales have no q, k, v ranges: mode 2 runs attention in FP16',
      );
    // The patch embedding (FP16) takes the FP16 engine's untuned tile for each batch size: one
    // fixed 64x64 tile took 0.33 ms at batch 32 of ViT-B/16-384 on an H100, the FP16 engine's 0.13.
    const { numPatches } = vitDims(config);
    const patchTensor = gpu.hasF16TensorCores ? defaultTensorPolicy(gpu) : undefined;
    const patchVariantAt = (M: number): GemmVariant => {
      const v = patchTensor?.('patch', M, D, patchDim);
      // One pass only: the INT8 plan has no split-K reduce.
      const one = v && v.kind === 'subgroup-matrix' ? { ...v, splitK: undefined } : v;
      return one && variantSupports(one, 'f16', patchDim, D) ? one : { kind: 'portable' };
    };
    const patchLookup = compileDistinct(
      Array.from({ length: maxBatch }, (_, i) => {
        const v = patchVariantAt((i + 1) * numPatches);
        return [String(i + 1), variantKey(v), () => createGemmKernel(device, 'f16', 'bias', v)] as const;
      }),
      (count) => `no patch-embedding GEMM for a batch of ${count}`,
    );
    const [preprocess, embed, layerNorm, layerNormInt8, pool, attention, quantize, head, patchAt] =
      await Promise.all([
        createPreprocessKernel(device, config, 'f16'),
        createEmbedKernel(device, config, 'f16'),
        createLayerNormKernel(device, 'f16', D),
        createLayerNormInt8Kernel(device, D),
        createPoolKernel(device, 'f16'),
        // One attention kernel: mode 2's int8 one where it applies, else FP16.
        createAttentionKernel(
          device,
          config,
          'f16',
          attentionVariant,
          int8Attention ? 'int8' : 'float',
          opts.attentionDesign,
        ),
        createQuantizeKernel(device, 'f16'),
        createGemmKernel(
          device,
          'f16',
          'bias',
          variantSupports(fp16Gemm, 'f16', D, config.numClasses) ? fp16Gemm : { kind: 'portable' },
        ),
        patchLookup,
      ]);
    const patch = (count: number): GemmKernel => patchAt(String(count));
    const shapes = int8Shapes(config, mode, int8Attention);
    const { tokens } = vitDims(config);
    const compileAll = async (pick: Int8GemmPolicy) => {
      const slots: (readonly [string, string, () => Promise<Int8GemmKernel>])[] = [];
      for (let n = 1; n <= maxBatch; n++) {
        for (const role of INT8_ROLES) {
          const { K, N, epilogue, outInt8 } = shapes[role];
          const v = pick(role, n * tokens, N, K);
          slots.push([
            `${role}@${n * tokens}`,
            `${int8VariantKey(v)}/${epilogue}/${outInt8}`,
            () => createInt8GemmKernel(device, epilogue, v, outInt8),
          ]);
        }
      }
      const at = await compileDistinct(
        slots,
        (slot) => `INT8 GEMM for ${slot.replace('@', ' at M=')} was not compiled`,
      );
      return (role: Int8Role, M: number) => at(`${role}@${M}`);
    };
    let gemm: Int8Kernels['gemm'];
    let fallback: string | undefined;
    try {
      gemm = await compileAll(policy);
    } catch (e) {
      // A driver that advertises i8 matrices but rejects the kernel should not cost the user INT8.
      if (choice !== 'auto' || !useTensorCores) throw e;
      fallback = (e as Error).message;
      logger.warn({ error: fallback }, 'INT8 tensor-core GEMM unavailable; using dot4');
      gemm = await compileAll(() => ({ kind: 'dot4' }));
    }
    const kernels: Int8Kernels = {
      preprocess,
      embed,
      layerNorm,
      layerNormInt8,
      pool,
      attention,
      quantize,
      patch,
      head,
      gemm,
    };
    const weights = uploadInt8Weights(device, config, opts.weights, scales, int8Attention);
    const engine = new Int8Engine(gpu, config, mode, maxBatch, kernels, weights, scales, logger);
    engine.gemmFallback = fallback;
    for (const role of INT8_ROLES)
      engine.gemmChoices[role] = int8VariantKey(gemm(role, maxBatch * tokens).variant);
    engine.gemmChoices.patch = `fp16-${variantKey(patch(maxBatch).variant)}`;
    engine.gemmChoices.attention = `${int8Attention ? 'int8' : 'fp16'}-${attention.variant}`;
    const oom = await device.popErrorScope();
    const invalid = await device.popErrorScope();
    if (oom || invalid) {
      await engine.close();
      throw new EngineError(
        `could not set up the INT8 engine on ${gpu.info.description}: ${(oom ?? invalid)!.message}` +
          (oom ? ` (out of GPU memory: lower --max-batch, now ${maxBatch})` : ''),
      );
    }
    logger.debug(
      { adapter: gpu.info, mode, maxBatch, gemm: engine.gemmChoices, weightBytes: weights.bytes },
      'int8 engine open',
    );
    return engine;
  }
}

/**
 * Compiles one kernel per distinct kernel key among `slots` ([where it is used, kernel key,
 * how to create it]), all at once, and returns the ready kernel for each use.
 */
async function compileDistinct<K>(
  slots: readonly (readonly [string, string, () => Promise<K>])[],
  missing: (slot: string) => string,
): Promise<(slot: string) => K> {
  const pending = new Map<string, Promise<K>>();
  const keyOf = new Map<string, string>();
  for (const [slot, key, create] of slots) {
    if (!pending.has(key)) pending.set(key, create());
    keyOf.set(slot, key);
  }
  const ready = new Map<string, K>();
  await Promise.all([...pending].map(async ([key, p]) => ready.set(key, await p)));
  return (slot) => {
    const k = ready.get(keyOf.get(slot) ?? '');
    if (!k) throw new EngineError(`internal: ${missing(slot)}`);
    return k;
  };
}
