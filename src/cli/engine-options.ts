import type { Command } from 'commander';
import { openEngine } from '../engine/open.js';
import { BACKENDS, type Backend, type Engine, PRECISIONS, type Precision } from '../engine/types.js';
import { InputError } from '../errors.js';
import { downloadProgressReporter } from '../models/progress.js';
import { createLogger } from '../util/logger.js';
import { isOneOf } from '../util/one-of.js';
import { parseInt8Mode, parsePositiveInt } from './options.js';

export interface EngineFlags {
  model: string;
  weights?: string;
  precision?: string;
  int8Mode?: string;
  scales?: string;
  backend: string;
  maxBatch: string;
  adapter?: string;
  cacheDir?: string;
  allowUnverified?: boolean;
}

/** The flags every command that runs the model shares (infer, classify, serve). */
export function addEngineOptions(cmd: Command, defaults: { maxBatch?: number } = {}): Command {
  return cmd
    .option(
      '--model <preset|config.json|folder>',
      'model preset, config file, or checkpoint folder',
      'vit-b16-224',
    )
    .option(
      '--weights <file|url|name>',
      "weights: a .npz/.safetensors file (offline), an https URL, or a checkpoint name; default: the weights file beside --model's config.json, else the preset's checkpoint, downloaded on first use",
    )
    .option('--precision <p>', 'fp32, fp16 or int8 (default fp16 on webgpu, fp32 on cpu)')
    .option('--int8-mode <1|2>', 'INT8 mode: 1 = int8 GEMM inputs, 2 = int8 between fused kernels', '1')
    .option(
      '--scales <file>',
      'INT8 calibration scales from `vitstream calibrate` (default: scales.json beside the weights)',
    )
    .option('--backend <b>', 'webgpu or cpu', 'webgpu')
    .option('--max-batch <n>', 'largest batch the engine takes', String(defaults.maxBatch ?? 32))
    .option('--adapter <name|index>', 'WebGPU adapter (see `vitstream info`)')
    .option(
      '--cache-dir <dir>',
      'where downloaded weights are kept (default $VITSTREAM_CACHE or ~/.cache/vitstream)',
    )
    .option('--allow-unverified', 'allow downloading checkpoints that have no pinned SHA-256');
}

export async function openEngineFromFlags(f: EngineFlags, logLevel = 'warn'): Promise<Engine> {
  if (!isOneOf(BACKENDS, f.backend))
    throw new InputError(`--backend: expected webgpu or cpu, got "${f.backend}"`, { input: '--backend' });
  if (f.precision && !isOneOf(PRECISIONS, f.precision))
    throw new InputError(`--precision: expected fp32, fp16 or int8, got "${f.precision}"`, {
      input: '--precision',
    });
  if (f.int8Mode) parseInt8Mode(f.int8Mode);
  const progress = downloadProgressReporter(`downloading ${f.weights ?? f.model} weights`);
  try {
    return await openEngine({
      model: f.model,
      weights: f.weights,
      precision: f.precision as Precision | undefined,
      int8Mode: Number(f.int8Mode ?? 1) as 1 | 2,
      scales: f.scales,
      backend: f.backend as Backend,
      maxBatch: parsePositiveInt(f.maxBatch, '--max-batch'),
      gpuOptions: { adapter: f.adapter },
      download: {
        cacheDir: f.cacheDir,
        allowUnverified: f.allowUnverified,
        onProgress: (p) => progress.onProgress(p),
      },
      logger: createLogger('vitstream', logLevel),
    });
  } finally {
    progress.stop();
  }
}
