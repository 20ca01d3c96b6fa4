import { existsSync } from 'node:fs';
import type { ViTConfig } from '../engine/config.js';
import { type GpuContext, type OpenGpuOptions, openGpu } from '../engine/gpu.js';
import { defaultScalesPath, type Int8Scales, openInt8Engine, readScales } from '../engine/int8/index.js';
import { int8TunedPolicy } from '../engine/int8/int8-tuning.js';
import { RecoveringEngine } from '../engine/recovering-engine.js';
import { createCpuEngine } from '../engine/reference.js';
import { readTuningCache, tunedPolicy } from '../engine/tuning.js';
import {
  BACKENDS,
  type Backend,
  type Engine,
  PRECISIONS,
  type Precision,
  type ViTWeights,
} from '../engine/types.js';
import { WebGpuEngine } from '../engine/webgpu-engine.js';
import { loadWeights } from '../engine/weights/index.js';
import { EngineError } from '../errors.js';
import type { FetchWeightsOptions } from '../models/download.js';
import { defaultWeightsSpec } from '../models/model-folder.js';
import { resolveModel } from '../models/presets.js';
import { resolveWeightsDetailed } from '../models/resolve.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { isOneOf } from '../util/one-of.js';

export interface OpenEngineOptions {
  /** A preset name (vit-b16-224, ...), a config.json path, or a config object. Default vit-b16-224. */
  model?: string | ViTConfig;
  /**
   * A weights file, an https URL, or a checkpoint name; default: the .safetensors/.npz beside the model's
   * config.json when `model` is a folder or file, else the preset's default checkpoint (downloaded once).
   */
  weights?: string | ViTWeights;
  precision?: Precision;
  /** INT8 only: 1 = int8 GEMM inputs, 2 = int8 between fused kernels (FasterTransformer's quant modes). */
  int8Mode?: 1 | 2;
  /** INT8 only: the scales from `vitstream calibrate` (a file, or the object); default scales.json beside the weights. */
  scales?: string | Int8Scales;
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
  checkOptions(opts);
  return openCheckedEngine(opts);
}

/**
 * openEngine for options already checked where they came in: the CLI parses its flags into these
 * typed values (src/cli/engine-options.ts), serve's config file is checked by its schema. Nothing
 * here re-reads a user's string.
 */
export async function openCheckedEngine(opts: OpenEngineOptions): Promise<Engine> {
  const logger = opts.logger ?? silentLogger;
  let config = typeof opts.model === 'object' ? opts.model : resolveModel(opts.model ?? 'vit-b16-224');
  let weights: ViTWeights;
  let weightsFile: string | undefined;
  if (typeof opts.weights === 'object') {
    weights = opts.weights;
  } else {
    const spec =
      opts.weights ??
      defaultWeightsSpec(typeof opts.model === 'string' ? opts.model : undefined, config.name);
    const resolved = await resolveWeightsDetailed(spec, opts.download);
    if (resolved.entry) config = { ...config, mean: resolved.entry.mean, std: resolved.entry.std };
    logger.info({ weights: resolved.path }, 'loading weights');
    weightsFile = resolved.path;
    weights = await loadWeights(resolved.path, config, logger);
  }
  const backend = opts.backend ?? 'webgpu';
  const precision = opts.precision ?? (backend === 'cpu' ? 'fp32' : 'fp16');
  if (backend === 'cpu') {
    if (precision !== 'fp32') throw new EngineError(`--backend cpu runs fp32 only (asked for ${precision})`);
    return createCpuEngine(config, weights, { maxBatch: opts.maxBatch });
  }
  if (precision === 'int8') {
    const scales =
      typeof opts.scales === 'object'
        ? opts.scales
        : readScales(int8ScalesFile(opts.scales, weightsFile), config);
    const mode = opts.int8Mode ?? 1;
    const open = async (gpu?: GpuContext) => {
      const ctx = gpu ?? (await openGpu(opts.gpuOptions));
      return openInt8Engine({
        config,
        weights,
        scales,
        mode,
        maxBatch: opts.maxBatch,
        gpu: ctx,
        // Tiles from `vitstream tune --precision int8` when the cache has them for this adapter.
        gemm: int8TunedPolicy(ctx, readTuningCache()),
      });
    };
    return new RecoveringEngine(await open(opts.gpu), () => open(), logger);
  }
  const type = precision === 'fp16' ? 'f16' : 'f32';
  const open = async (gpu?: GpuContext) => {
    const ctx = gpu ?? (await openGpu(opts.gpuOptions));
    return WebGpuEngine.open({
      config,
      weights,
      precision,
      maxBatch: opts.maxBatch,
      gpu: ctx,
      logger,
      gemm: tunedPolicy(ctx, type, readTuningCache()),
    });
  };
  // A lost device is replaced by a new one (same adapter choice), weights re-uploaded.
  return new RecoveringEngine(await open(opts.gpu), () => open(), logger);
}

function int8ScalesFile(given: string | undefined, weightsFile: string | undefined): string {
  if (given) return given;
  const beside = weightsFile && defaultScalesPath(weightsFile);
  if (beside && existsSync(beside)) return beside;
  throw new EngineError(
    `precision int8 needs calibration scales${beside ? ` (none at ${beside})` : ''}: run \`vitstream calibrate --model ... --weights ... --images <frames>\` first, or pass --scales scales.json`,
  );
}

/** Library callers (plain JS included) get checked: a misspelt precision or backend must not open something else. */
function checkOptions(opts: OpenEngineOptions): void {
  const bad = (what: string, expected: string, got: unknown) =>
    new EngineError(`openEngine: ${what} must be ${expected}, got ${JSON.stringify(got)}`);
  if (opts.precision !== undefined && !isOneOf(PRECISIONS, opts.precision))
    throw bad('precision', "'fp32', 'fp16' or 'int8'", opts.precision);
  if (opts.backend !== undefined && !isOneOf(BACKENDS, opts.backend))
    throw bad('backend', "'webgpu' or 'cpu'", opts.backend);
  if (opts.int8Mode !== undefined && opts.int8Mode !== 1 && opts.int8Mode !== 2)
    throw bad('int8Mode', '1 or 2', opts.int8Mode);
  if (opts.maxBatch !== undefined && !(Number.isInteger(opts.maxBatch) && opts.maxBatch >= 1))
    throw bad('maxBatch', 'a positive integer', opts.maxBatch);
}
