import type { ViTConfig } from '../src/engine/config.js';
import { vitDims } from '../src/engine/config.js';
import { timeGemm } from '../src/engine/gemm-timing.js';
import { type GpuContext, openGpu } from '../src/engine/gpu.js';
import { calibrateOnGpu } from '../src/engine/int8/calibrate.js';
import { Int8Engine } from '../src/engine/int8/int8-engine.js';
import type { Int8Mode } from '../src/engine/int8/int8-plan.js';
import { type Int8GemmPolicy, int8Shapes } from '../src/engine/int8/int8-policy.js';
import {
  type Int8GemmTiming,
  int8TunedPolicy,
  timeInt8Gemm,
  tuneInt8Model,
} from '../src/engine/int8/int8-tuning.js';
import { INT8_ROLES, type Int8Scales } from '../src/engine/int8/scales.js';
import {
  type GemmVariant,
  SUBGROUP_MATRIX_TILES,
  variantKey,
  workgroupBytes,
} from '../src/engine/kernels/gemm.js';
import {
  INT8_SUBGROUP_MATRIX_TILES,
  type Int8GemmVariant,
  int8VariantKey,
  int8VariantSupports,
  int8WorkgroupBytes,
} from '../src/engine/kernels/gemm-int8.js';
import { randomFrames, randomWeights } from '../src/engine/random-weights.js';
import {
  adapterKey,
  defaultTuningFile,
  readTuningCache,
  shapeKey,
  writeTuningCache,
} from '../src/engine/tuning.js';
import type { ViTWeights } from '../src/engine/types.js';
import { WebGpuEngine } from '../src/engine/webgpu-engine.js';
import { formatTable } from '../src/util/table.js';
import {
  formatGemmTable,
  formatGpuMemory,
  formatLatencyTable,
  type LatencyRow,
  speedupsOver,
  timeEngineBatch,
} from './latency.js';

export interface Int8BenchOptions {
  config: ViTConfig;
  weights?: ViTWeights;
  /** Scales from `vitstream calibrate`; else calibrated here on `calibFrames` random frames. */
  scales?: Int8Scales;
  calibFrames?: number;
  modes: Int8Mode[];
  batches: number[];
  iterations: number;
  warmup: number;
  /** 'tuned': time every INT8 tile per GEMM shape first and use the fastest. */
  gemm?: 'auto' | 'dot4' | 'subgroup-matrix' | 'tuned';
  /** Also time the FP16 engine in the same process (same adapter, same weights). */
  fp16?: boolean;
  /** Mode 2 with FP16 attention instead of int8 attention (for comparison). */
  fp16Attention?: boolean;
  gpu?: GpuContext;
  log?: (line: string) => void;
}

export interface Int8BenchRow extends LatencyRow {
  speedupVsFp16?: number;
  /** The same for the forward pass's GPU time. */
  gpuSpeedupVsFp16?: number;
}

export interface Int8GemmRow extends Int8GemmTiming {
  precision: 'int8' | 'fp16';
}

export interface Int8Agreement {
  precision: string;
  images: number;
  top1Agreement: number;
  maxAbsDiff: number;
  maxAbsLogit: number;
}

export interface Int8BenchResult {
  adapter: string;
  model: string;
  rows: Int8BenchRow[];
  gemms: Int8GemmRow[];
  agreement: Int8Agreement[];
  gpuMemoryMB: Record<string, number>;
  gemmChoices: Record<string, Record<string, string>>;
  calibration: { method: string; images: number; seconds?: number };
  gemmFallback?: string;
}

/** FP16 GEMM of the same shape with the FP16 kernels (for the INT8 vs FP16 column). */
async function timeFp16Gemm(
  device: GPUDevice,
  variant: GemmVariant,
  M: number,
  N: number,
  K: number,
  iterations = 20,
) {
  const t = await timeGemm(device, variant, 'f16', { M, N, K }, iterations);
  return { ms: t.ms, tops: t.tflops };
}

/**
 * `--gemm tuned`: the INT8 tiles from the tuning cache; shapes it lacks are tuned now and saved
 * there (as `vitstream tune --precision int8` would). 'auto' without INT8 tensor cores.
 */
async function tunedInt8Policy(
  gpu: GpuContext,
  config: ViTConfig,
  batches: number[],
  mode: Int8Mode,
  log: (l: string) => void,
): Promise<Int8GemmPolicy | 'auto'> {
  if (!gpu.hasI8TensorCores) return 'auto';
  const cache = readTuningCache();
  const table = cache.adapters[adapterKey(gpu)] ?? {};
  const { tokens } = vitDims(config);
  const shapes = int8Shapes(config, mode);
  const missing = batches.filter((b) =>
    INT8_ROLES.some((r) => !table[shapeKey('i8', b * tokens, shapes[r].N, shapes[r].K)]),
  );
  if (missing.length > 0) {
    await tuneInt8Model(gpu, config, missing, mode, cache, (r) =>
      log(`  tune ${r.role} M=${r.M}: ${r.variant} ${r.ms.toFixed(3)} ms`),
    );
    writeTuningCache(cache);
    log(`  INT8 tuning saved to ${defaultTuningFile()}`);
  }
  return int8TunedPolicy(gpu, cache) ?? 'auto';
}

function agreement(
  precision: string,
  ref: Float32Array,
  got: Float32Array,
  images: number,
  C: number,
): Int8Agreement {
  let agree = 0;
  let maxAbsDiff = 0;
  let maxAbsLogit = 0;
  const argmax = (x: Float32Array, i: number) => {
    let b = 0;
    for (let c = 1; c < C; c++) if (x[i * C + c] > x[i * C + b]) b = c;
    return b;
  };
  for (let i = 0; i < images; i++) {
    if (argmax(ref, i) === argmax(got, i)) agree++;
    for (let c = 0; c < C; c++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ref[i * C + c] - got[i * C + c]));
      maxAbsLogit = Math.max(maxAbsLogit, Math.abs(ref[i * C + c]));
    }
  }
  return { precision, images, top1Agreement: agree / images, maxAbsDiff, maxAbsLogit };
}

/**
 * The INT8 columns of FasterTransformer's ViT table: latency per batch and INT8 mode (uint8
 * upload and logits readback included), img/s, speedup vs FP16 when `fp16` is on, INT8 vs FP16
 * GEMM rates per shape, and logit agreement of each precision with the FP32 GPU engine.
 */
export async function benchInt8Engine(o: Int8BenchOptions): Promise<Int8BenchResult> {
  const log = o.log ?? (() => {});
  const gpu = o.gpu ?? (await openGpu());
  const config = o.config;
  const weights = o.weights ?? randomWeights(config);
  const maxBatch = Math.max(...o.batches);
  let scales = o.scales;
  let calibSeconds: number | undefined;
  if (!scales) {
    const n = o.calibFrames ?? 8;
    log(`calibrating on ${n} random frames (FP32 GPU engine)`);
    const t0 = performance.now();
    scales = await calibrateOnGpu({
      config,
      weights,
      frames: randomFrames(config, n, 5),
      count: n,
      method: 'percentile',
      batch: 1,
      gpu,
    });
    calibSeconds = (performance.now() - t0) / 1000;
  }
  const agreementImages = Math.min(16, maxBatch);
  const agreementFrames = {
    kind: 'rgb' as const,
    data: randomFrames(config, agreementImages, 11),
    count: agreementImages,
  };
  const rows: Int8BenchRow[] = [];
  const gemms: Int8GemmRow[] = [];
  const gpuMemoryMB: Record<string, number> = {};
  const gemmChoices: Record<string, Record<string, string>> = {};
  const logits: Record<string, Float32Array> = {};
  let gemmFallback: string | undefined;

  {
    log('FP32 reference engine for agreement');
    const fp32 = await WebGpuEngine.open({
      config,
      weights,
      precision: 'fp32',
      maxBatch: agreementImages,
      gpu,
    });
    logits.fp32 = await fp32.infer(agreementFrames);
    await fp32.close();
  }
  if (o.fp16) {
    log(`opening ${config.name} fp16`);
    const e = await WebGpuEngine.open({ config, weights, precision: 'fp16', maxBatch, gpu });
    gpuMemoryMB.fp16 = Math.round(e.gpuBytes / 2 ** 20);
    gemmChoices.fp16 = { ...e.gemmChoices };
    logits.fp16 = await e.infer(agreementFrames);
    for (const batch of o.batches) {
      rows.push(await timeEngineBatch(e, config, 'fp16', batch, o.iterations, o.warmup));
      log(`  fp16 batch ${batch}: ${rows.at(-1)!.medianMs.toFixed(2)} ms`);
    }
    await e.close();
  }
  for (const mode of o.modes) {
    const name = `int8-m${mode}`;
    let gemm: Int8BenchOptions['gemm'] | Int8GemmPolicy = o.gemm ?? 'auto';
    if (gemm === 'tuned') gemm = await tunedInt8Policy(gpu, config, o.batches, mode, log);
    log(`opening ${config.name} ${name}`);
    const e = await Int8Engine.open({
      config,
      weights,
      scales,
      mode,
      maxBatch,
      gpu,
      gemm,
      int8Attention: !o.fp16Attention,
    });
    gemmFallback ??= e.gemmFallback;
    gpuMemoryMB[name] = Math.round(e.gpuBytes / 2 ** 20);
    gemmChoices[name] = { ...e.gemmChoices };
    logits[name] = await e.infer(agreementFrames);
    for (const batch of o.batches) {
      rows.push(await timeEngineBatch(e, config, name, batch, o.iterations, o.warmup));
      log(`  ${name} batch ${batch}: ${rows.at(-1)!.medianMs.toFixed(2)} ms`);
    }
    await e.close();
  }
  for (const r of rows) {
    const base = rows.find((b) => b.precision === 'fp16' && b.batch === r.batch);
    if (base && r.precision !== 'fp16') setSpeedupVsFp16(r, base);
  }

  // GEMM rates at the largest batch: every INT8 tile (best reported) vs every FP16 tile (best).
  const { tokens } = vitDims(config);
  const M = maxBatch * tokens;
  const shapes = int8Shapes(config, 1);
  const i8Tiles: Int8GemmVariant[] = gpu.hasI8TensorCores
    ? INT8_SUBGROUP_MATRIX_TILES.filter(
        (v) => int8WorkgroupBytes(v) <= gpu.limits.maxComputeWorkgroupStorageSize,
      )
    : [{ kind: 'dot4' }];
  const f16Tiles: GemmVariant[] = gpu.hasF16TensorCores
    ? SUBGROUP_MATRIX_TILES.filter((v) => workgroupBytes(v) <= gpu.limits.maxComputeWorkgroupStorageSize)
    : [{ kind: 'portable' }];
  for (const role of INT8_ROLES) {
    const { K, N } = shapes[role];
    let bestI8: Int8GemmRow | undefined;
    for (const v of i8Tiles) {
      if (!int8VariantSupports(v, K, N)) continue;
      const t = await timeInt8Gemm(gpu.device, v, { M, N, K });
      if (!bestI8 || t.ms < bestI8.ms)
        bestI8 = { precision: 'int8', role, M, N, K, variant: int8VariantKey(v), ...t };
    }
    let bestF16: Int8GemmRow | undefined;
    for (const v of f16Tiles) {
      const t = await timeFp16Gemm(gpu.device, v, M, N, K);
      if (!bestF16 || t.ms < bestF16.ms)
        bestF16 = { precision: 'fp16', role, M, N, K, variant: variantKey(v), ...t };
    }
    if (bestI8) gemms.push(bestI8);
    if (bestF16) gemms.push(bestF16);
    log(
      `  GEMM ${role} ${M}x${N}x${K}: int8 ${bestI8?.tops.toFixed(1)} TOP/s, fp16 ${bestF16?.tops.toFixed(1)} TFLOP/s`,
    );
  }
  const C = config.numClasses;
  const agreementRows = Object.keys(logits)
    .filter((k) => k !== 'fp32')
    .map((k) => agreement(k, logits.fp32, logits[k], agreementImages, C));
  return {
    adapter: gpu.info.description || gpu.info.device,
    model: config.name,
    rows,
    gemms,
    agreement: agreementRows,
    gpuMemoryMB,
    gemmChoices,
    calibration: { method: scales.method, images: scales.images, seconds: calibSeconds },
    gemmFallback,
  };
}

/** Sets `row`'s speedups over the FP16 row of its batch size. */
export function setSpeedupVsFp16(row: Int8BenchRow, fp16: LatencyRow): void {
  const s = speedupsOver(row, fp16);
  row.speedupVsFp16 = s.latency;
  row.gpuSpeedupVsFp16 = s.gpu;
}

export function formatInt8Bench(r: Int8BenchResult): string {
  const out: string[] = [`model ${r.model} on ${r.adapter}`, ''];
  out.push(
    formatLatencyTable(r.rows, 'FP16', (x) => {
      const { speedupVsFp16, gpuSpeedupVsFp16 } = x as Int8BenchRow;
      return speedupVsFp16 ? { latency: speedupVsFp16, gpu: gpuSpeedupVsFp16 } : undefined;
    }),
  );
  out.push(
    '',
    formatGemmTable(r.gemms, 'best kernel', 'TOP/s', (g) => g.tops),
  );
  out.push(
    '',
    formatTable(
      ['precision', 'images', 'top-1 agreement vs FP32', 'max |logit diff|', 'max |logit|'],
      r.agreement.map((a) => [
        a.precision,
        a.images,
        `${(a.top1Agreement * 100).toFixed(1)}%`,
        a.maxAbsDiff.toExponential(2),
        a.maxAbsLogit.toFixed(2),
      ]),
    ),
  );
  out.push('', formatGpuMemory('GPU memory held', r.gpuMemoryMB));
  out.push(
    `kernels: ${Object.entries(r.gemmChoices)
      .map(
        ([p, c]) =>
          `${p} {${Object.entries(c)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', ')}}`,
      )
      .join('; ')}`,
  );
  out.push(
    `scales: ${r.calibration.method} over ${r.calibration.images} images${r.calibration.seconds ? ` (calibrated here in ${r.calibration.seconds.toFixed(0)} s)` : ''}`,
  );
  if (r.gemmFallback) out.push(`tensor-core INT8 GEMM unavailable, dot4 used: ${r.gemmFallback}`);
  return out.join('\n');
}
