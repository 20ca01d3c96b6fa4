import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../errors.js';
import type { ViTConfig } from '../config.js';

/** The GEMMs of a block that run in INT8; each is quantised at its input. */
export const INT8_ROLES = ['qkv', 'proj', 'fc1', 'fc2'] as const;
export type Int8Role = (typeof INT8_ROLES)[number];

/** The inputs of int8 attention (INT8 mode 2): the three parts of the qkv GEMM's output. */
export const ATTENTION_INPUTS = ['q', 'k', 'v'] as const;
export type AttentionInput = (typeof ATTENTION_INPUTS)[number];

export type CalibrationMethod = 'max' | 'percentile' | 'mse';

/** One quantisation point: the clip threshold chosen by calibration and its scale (threshold / 127). */
export interface ActivationRange {
  scale: number;
  /** Clip threshold: |x| above it saturates. */
  threshold: number;
  /** Largest |x| observed. */
  absMax: number;
}

/**
 * `scales.json`: per-tensor activation scales at the input of every INT8 GEMM (qkv: LN1
 * output, proj: attention output, fc1: LN2 output, fc2: GELU output). In mode 2 the producers
 * of those tensors (LayerNorm, the fc1 epilogue) quantise with the same scales. Weight scales
 * are per output channel (column absmax / 127); they are stored for reference and re-derived
 * from the weights when absent.
 */
export interface Int8Scales {
  format: 'vitstream-int8-scales';
  version: 1;
  model: string;
  method: CalibrationMethod;
  percentile?: number;
  /** Calibration images seen. */
  images: number;
  blocks: Record<Int8Role, ActivationRange>[];
  /**
   * Per block, the ranges of q, k and v (the qkv GEMM's output): with them mode 2 runs attention
   * on int8 (the qkv GEMM quantises its output, attention quantises its own for proj); files
   * calibrated without them run mode 2 with FP16 attention.
   */
  attention?: Record<AttentionInput, ActivationRange>[];
  weights?: Record<Int8Role, number[]>[];
}

/**
 * Bounds on a scale (clip threshold / 127). A ViT's activations stay far inside float16's range
 * (65504), so a threshold above that, a scale of 65504 / 127, means a broken or hostile file; a
 * scale below 1e-30 would overflow float32 where kernels divide by it.
 */
export const MAX_SCALE = 65504 / 127;
export const MIN_SCALE = 1e-30;

/** Where `vitstream calibrate` puts scales by default: beside the weights file. */
export function defaultScalesPath(weightsFile: string): string {
  return path.join(path.dirname(weightsFile), 'scales.json');
}

export function writeScales(file: string, scales: Int8Scales): void {
  writeFileSync(file, `${JSON.stringify(scales)}\n`);
}

/** Reads and checks a scales file against the model it will quantise. */
export function readScales(file: string, config?: ViTConfig): Int8Scales {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(
      `${file}: cannot read INT8 scales (${(e as Error).message}); run \`vitstream calibrate\` to make one`,
      { input: file, cause: e },
    );
  }
  return validateScales(raw, file, config);
}

export function validateScales(raw: unknown, source: string, config?: ViTConfig): Int8Scales {
  const s = raw as Partial<Int8Scales>;
  if (s?.format !== 'vitstream-int8-scales' || s.version !== 1 || !Array.isArray(s.blocks))
    throw new ConfigError(
      `${source}: not a vitstream INT8 scales file (format "vitstream-int8-scales", version 1, blocks[] expected)`,
      { input: source },
    );
  const checkRange = (r: Partial<ActivationRange> | undefined, where: string) => {
    const scale = r?.scale;
    if (typeof scale !== 'number' || !(scale >= MIN_SCALE && scale <= MAX_SCALE))
      throw new ConfigError(
        `${source}: ${where}: scale ${String(JSON.stringify(scale)).slice(0, 40)} is out of range (${MIN_SCALE} to ${MAX_SCALE} expected)`,
        { input: source },
      );
  };
  s.blocks.forEach((b, i) => {
    for (const role of INT8_ROLES) checkRange(b?.[role], `block ${i} ${role}`);
  });
  if (config) {
    if (s.blocks.length !== config.numLayers)
      throw new ConfigError(
        `${source}: scales for ${s.blocks.length} blocks, but model ${config.name} has ${config.numLayers}`,
        { input: source },
      );
    if (s.weights) {
      const want: Record<Int8Role, number> = {
        qkv: 3 * config.hiddenSize,
        proj: config.hiddenSize,
        fc1: config.mlpDim,
        fc2: config.hiddenSize,
      };
      s.weights.forEach((w, i) => {
        for (const role of INT8_ROLES) {
          const values = w?.[role];
          if (!Array.isArray(values) || values.length !== want[role])
            throw new ConfigError(
              `${source}: block ${i} ${role} weight scales: ${want[role]} values expected, got ${Array.isArray(values) ? values.length : 'none'}`,
              { input: source },
            );
          // Weight scales are column absmax / 127 and may be 0 for an all-zero column.
          if (!values.every((v) => typeof v === 'number' && v >= 0 && v <= MAX_SCALE))
            throw new ConfigError(
              `${source}: block ${i} ${role} weight scales: values from 0 to ${MAX_SCALE} expected`,
              { input: source },
            );
        }
      });
    }
  }
  if (s.attention !== undefined) {
    if (!Array.isArray(s.attention) || s.attention.length !== s.blocks.length)
      throw new ConfigError(
        `${source}: attention ranges for ${Array.isArray(s.attention) ? s.attention.length : 'no'} blocks, scales for ${s.blocks.length}`,
        { input: source },
      );
    s.attention.forEach((a, i) => {
      for (const part of ATTENTION_INPUTS) checkRange(a?.[part], `block ${i} attention ${part}`);
    });
  }
  return s as Int8Scales;
}
