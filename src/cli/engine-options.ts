import type { Command } from 'commander';
import { type OpenEngineOptions, openCheckedEngine } from '../app/open-engine.js';
import { BACKENDS, type Engine, PRECISIONS } from '../engine/types.js';
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

/**
 * The engine flags as typed options: the one place they are checked. Strings in, typed values out,
 * before anything loads; what comes out goes to openCheckedEngine, which does not check again.
 */
export function engineOptionsFromFlags(f: EngineFlags): OpenEngineOptions {
  return {
    model: f.model,
    weights: f.weights,
    backend: parseWord(f.backend, '--backend', BACKENDS, 'webgpu or cpu'),
    precision:
      f.precision === undefined
        ? undefined
        : parseWord(f.precision, '--precision', PRECISIONS, 'fp32, fp16 or int8'),
    int8Mode: parseInt8Mode(f.int8Mode ?? '1'),
    scales: f.scales,
    maxBatch: parsePositiveInt(f.maxBatch, '--max-batch'),
    gpuOptions: { adapter: f.adapter },
    download: { cacheDir: f.cacheDir, allowUnverified: f.allowUnverified },
  };
}

/** parseChoice with the list in words ("fp32, fp16 or int8"), as these two flags have always said it. */
function parseWord<T extends string>(text: string, flag: string, choices: readonly T[], words: string): T {
  if (!isOneOf(choices, text))
    throw new InputError(`${flag}: expected ${words}, got "${text}"`, { input: flag });
  return text;
}

export function openEngineFromFlags(f: EngineFlags, logLevel = 'warn'): Promise<Engine> {
  return openEngineWithProgress(engineOptionsFromFlags(f), logLevel);
}

/** Opens checked options with a download progress bar on stderr and the CLI's logger. */
export async function openEngineWithProgress(options: OpenEngineOptions, logLevel = 'warn'): Promise<Engine> {
  const name = typeof options.weights === 'string' ? options.weights : options.model;
  const progress = downloadProgressReporter(
    `downloading ${typeof name === 'string' ? name : 'model'} weights`,
  );
  try {
    return await openCheckedEngine({
      ...options,
      download: { ...options.download, onProgress: (p) => progress.onProgress(p) },
      logger: createLogger('vitstream', logLevel),
    });
  } finally {
    progress.stop();
  }
}
