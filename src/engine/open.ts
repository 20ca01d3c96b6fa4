import { EngineError } from '../errors.js';
import { resolveWeightsDetailed } from '../models/resolve.js';
import type { FetchWeightsOptions } from '../models/download.js';
import { silentLogger, type Logger } from '../util/logger.js';
import type { ViTConfig } from './config.js';
import { openGpu, type GpuContext, type OpenGpuOptions } from './gpu.js';
import { resolveModel } from './presets.js';
import { RecoveringEngine } from './recovering-engine.js';
import { createCpuEngine } from './reference.js';
import { readTuningCache, tunedPolicy } from './tuning.js';
import type { Backend, Engine, Precision, ViTWeights } from './types.js';
import { loadWeights } from './weights/index.js';
import { WebGpuEngine } from './webgpu-engine.js';

export interface OpenEngineOptions {
  /** A preset name (vit-b16-224, ...), a config.json path, or a config object. Default vit-b16-224. */
  model?: string | ViTConfig;
  /** A weights file, an https URL, or a checkpoint name; default: the model's default checkpoint (downloaded once). */
  weights?: string | ViTWeights;
  precision?: Precision;
  /** INT8 only: 1 = int8 GEMM inputs, 2 = int8 between fused kernels (FasterTransformer's quant modes). */
  int8Mode?: 1 | 2;
  backend?: Backend;
  maxBatch?: number;
  gpu?: GpuContext;
  gpuOptions?: OpenGpuOptions;
  /** Download options (cache dir, progress, allowUnverified). */
  download?: FetchWeightsOptions;
  logger?: Logger;
}

/**
 * The one-line way to get a ready engine: resolve the model and its weights (downloading on first
 * use), load them, and open the backend asked for. Preprocessing constants come from the
 * checkpoint when the catalogue knows them (DeiT uses ImageNet's mean/std, Google's ViT 0.5).
 */
export async function openEngine(opts: OpenEngineOptions = {}): Promise<Engine> {
  const logger = opts.logger ?? silentLogger;
  let config = typeof opts.model === 'object' ? opts.model : resolveModel(opts.model ?? 'vit-b16-224');
  let weights: ViTWeights;
  if (typeof opts.weights === 'object') {
    weights = opts.weights;
  } else {
    const resolved = await resolveWeightsDetailed(opts.weights ?? config.name, opts.download);
    if (resolved.entry) config = { ...config, mean: resolved.entry.mean, std: resolved.entry.std };
    logger.info({ weights: resolved.path }, 'loading weights');
    weights = await loadWeights(resolved.path, config, logger);
  }
  const backend = opts.backend ?? 'webgpu';
  const precision = opts.precision ?? (backend === 'cpu' ? 'fp32' : 'fp16');
  if (backend === 'cpu') {
    if (precision !== 'fp32') throw new EngineError(`--backend cpu runs fp32 only (asked for ${precision})`);
    return createCpuEngine(config, weights, { maxBatch: opts.maxBatch });
  }
  if (precision === 'int8') throw new EngineError('precision int8 is not wired into openEngine yet');
  const type = precision === 'fp16' ? 'f16' : 'f32';
  const open = async (gpu?: GpuContext) => {
    const ctx = gpu ?? (await openGpu(opts.gpuOptions));
    return WebGpuEngine.open({ config, weights, precision, maxBatch: opts.maxBatch, gpu: ctx, logger, gemm: tunedPolicy(ctx, type, readTuningCache()) });
  };
  // A lost device is replaced by a new one (same adapter choice), weights re-uploaded.
  return new RecoveringEngine(await open(opts.gpu), () => open(), logger);
}
