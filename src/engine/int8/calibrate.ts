import { EngineError } from '../../errors.js';
import type { ViTConfig } from '../config.js';
import type { GpuContext } from '../gpu.js';
import type { Observe } from '../observe.js';
import type { EngineInput, ViTWeights } from '../types.js';
import { WebGpuEngine } from '../webgpu-engine.js';
import { AbsHistogram } from './histogram.js';
import { observeForward } from './observer.js';
import { channelScales, scaleFor } from './quant.js';
import {
  type ActivationRange,
  ATTENTION_INPUTS,
  type AttentionInput,
  type CalibrationMethod,
  INT8_ROLES,
  type Int8Role,
  type Int8Scales,
} from './scales.js';

export interface CalibrateOptions {
  config: ViTConfig;
  weights: ViTWeights;
  /** uint8 RGB frames [count, S, S, 3] at the model's size. */
  frames: Uint8Array;
  count: number;
  method?: CalibrationMethod;
  /** For `percentile` (default 99.99). */
  percentile?: number;
  /** Images per forward pass (memory vs. overhead; default 8). */
  batch?: number;
  /**
   * The instrumented FP32 forward pass: e.g. a WebGpuEngine's `observe` (GPU), or by default
   * observeForward, the CPU reference (~40 s per 384x384 image on 2 cores).
   */
  forward?: (input: EngineInput, observe: Observe) => Promise<unknown> | unknown;
  /** Progress: images done so far. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Post-training calibration: runs an FP32 forward pass (GPU engine or CPU reference) over the
 * frames, histograms |x| at every INT8 GEMM input and at q, k and v (attention's inputs in mode 2),
 * and picks each tensor's clip threshold by `max` (the largest |x|), `percentile` (that percentile
 * of |x|) or `mse` (the threshold minimising quantisation MSE). Weight scales are per output
 * channel (absmax / 127).
 */
export async function calibrate(o: CalibrateOptions): Promise<Int8Scales> {
  const { config, weights, frames, count } = o;
  const method = o.method ?? 'percentile';
  const percentile = o.percentile ?? 99.99;
  if (!(percentile > 0 && percentile <= 100))
    throw new EngineError(`percentile must be in (0, 100], got ${percentile}`);
  const S = config.imageSize;
  const frameBytes = S * S * 3;
  if (count < 1 || frames.length < count * frameBytes)
    throw new EngineError(
      `calibration needs at least one ${S}x${S} RGB frame; got ${Math.floor(frames.length / frameBytes)}`,
    );
  const hist = Array.from(
    { length: config.numLayers },
    () =>
      Object.fromEntries(INT8_ROLES.map((r) => [r, new AbsHistogram()])) as Record<Int8Role, AbsHistogram>,
  );
  const attentionHist = Array.from(
    { length: config.numLayers },
    () =>
      Object.fromEntries(ATTENTION_INPUTS.map((p) => [p, new AbsHistogram()])) as Record<
        AttentionInput,
        AbsHistogram
      >,
  );
  const D = config.hiddenSize;
  const observe: Observe = (layer, point, x) => {
    if (point !== 'attention') return hist[layer][point].add(x);
    // [rows, 3D]: q | k | v side by side in each row.
    const rows = x.length / (3 * D);
    const part = new Float32Array(rows * D);
    ATTENTION_INPUTS.forEach((p, j) => {
      for (let r = 0; r < rows; r++) part.set(x.subarray(r * 3 * D + j * D, r * 3 * D + (j + 1) * D), r * D);
      attentionHist[layer][p].add(part);
    });
  };
  const batch = Math.max(1, o.batch ?? 8);
  const forward = o.forward ?? ((input, observe) => observeForward(config, weights, input, observe));
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    const input: EngineInput = {
      kind: 'rgb',
      data: frames.subarray(i * frameBytes, (i + n) * frameBytes),
      count: n,
    };
    await forward(input, observe);
    o.onProgress?.(i + n, count);
    // Let the event loop run (progress bars, signals) between batches.
    await new Promise<void>((r) => setImmediate(r));
  }
  const threshold = (h: AbsHistogram) =>
    method === 'max' ? h.absMax : method === 'percentile' ? h.percentile(percentile) : h.mseThreshold();
  const range = (h: AbsHistogram): ActivationRange => {
    const t = threshold(h);
    return { scale: scaleFor(t), threshold: t, absMax: h.absMax };
  };
  const blocks = hist.map(
    (b) =>
      Object.fromEntries(INT8_ROLES.map((role) => [role, range(b[role])])) as Record<
        Int8Role,
        ActivationRange
      >,
  );
  const attention = attentionHist.map(
    (b) =>
      Object.fromEntries(ATTENTION_INPUTS.map((p) => [p, range(b[p])])) as Record<
        AttentionInput,
        ActivationRange
      >,
  );
  return {
    format: 'vitstream-int8-scales',
    version: 1,
    model: config.name,
    method,
    ...(method === 'percentile' ? { percentile } : {}),
    images: count,
    blocks,
    attention,
    weights: weightScales(config, weights),
  };
}

/** Images per GPU calibration pass: each holds every INT8 GEMM input of its batch for readback. */
const GPU_BATCH = 4;

/**
 * calibrate() with the FP32 WebGPU engine as its forward pass (WebGpuEngine.observe), opened on
 * `gpu` for `batch` images (default GPU_BATCH) and closed after.
 */
export async function calibrateOnGpu(o: CalibrateOptions & { gpu: GpuContext }): Promise<Int8Scales> {
  const batch = o.batch ?? GPU_BATCH;
  const { config, weights, gpu } = o;
  const engine = await WebGpuEngine.open({ config, weights, precision: 'fp32', maxBatch: batch, gpu });
  try {
    return await calibrate({ ...o, batch, forward: (input, observe) => engine.observe(input, observe) });
  } finally {
    await engine.close();
  }
}

/** Per-output-channel weight scales of every INT8 GEMM. */
export function weightScales(config: ViTConfig, weights: ViTWeights): Record<Int8Role, number[]>[] {
  const D = config.hiddenSize;
  const F = config.mlpDim;
  const dims: Record<Int8Role, [number, number]> = {
    qkv: [D, 3 * D],
    proj: [D, D],
    fc1: [D, F],
    fc2: [F, D],
  };
  return weights.blocks.map((b) => {
    const kernels: Record<Int8Role, Float32Array> = {
      qkv: b.qkvKernel.data,
      proj: b.projKernel.data,
      fc1: b.fc1Kernel.data,
      fc2: b.fc2Kernel.data,
    };
    return Object.fromEntries(
      INT8_ROLES.map((r) => [r, Array.from(channelScales(kernels[r], ...dims[r]))]),
    ) as Record<Int8Role, number[]>;
  });
}
