import type { ViTConfig } from '../src/engine/config.js';
import { type GemmRole, gemmRows, gemmShapes } from '../src/engine/forward-plan.js';
import { timeGemm } from '../src/engine/gemm-timing.js';
import { type GpuContext, openGpu } from '../src/engine/gpu.js';
import { parseVariant } from '../src/engine/kernels/gemm.js';
import { randomFrames, randomWeights } from '../src/engine/random-weights.js';
import { readTuningCache, tunedPolicy } from '../src/engine/tuning.js';
import type { ViTWeights } from '../src/engine/types.js';
import { WebGpuEngine } from '../src/engine/webgpu-engine.js';
import {
  formatGemmTable,
  formatGpuMemory,
  formatLatencyTable,
  type LatencyRow,
  speedupsOver,
  timeEngineBatch,
} from './latency.js';

/** Timings per GEMM shape in the per-GEMM table; the table quotes their median. */
const GEMM_TIMING_RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export interface EngineBenchOptions {
  config: ViTConfig;
  weights?: ViTWeights;
  precisions: ('fp32' | 'fp16')[];
  batches: number[];
  iterations: number;
  warmup: number;
  gemm?: 'auto' | 'portable' | 'subgroup-matrix' | 'tuned';
  gpu?: GpuContext;
  /** Called with progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface EngineBenchRow extends LatencyRow {
  speedupVsFp32?: number;
  /** The same for the forward pass's GPU time. */
  gpuSpeedupVsFp32?: number;
}

export interface GemmBenchRow {
  precision: string;
  role: GemmRole;
  M: number;
  N: number;
  K: number;
  variant: string;
  ms: number;
  tflops: number;
}

export interface EngineBenchResult {
  adapter: string;
  model: string;
  rows: EngineBenchRow[];
  gemms: GemmBenchRow[];
  gpuMemoryMB: Record<string, number>;
  gemmChoices: Record<string, Record<string, string>>;
  agreement?: { batch: number; top1Agreement: number; maxAbsDiff: number; maxAbsLogit: number };
}

/**
 * FasterTransformer's ViT table for one model: latency per batch (median of N after warm-up,
 * upload of uint8 frames and readback of logits included), images/s one batch at a time and
 * with two batches in flight, speedup versus FP32, achieved TFLOP/s per GEMM shape, GPU memory.
 */
export async function benchEngine(o: EngineBenchOptions): Promise<EngineBenchResult> {
  const log = o.log ?? (() => {});
  const gpu = o.gpu ?? (await openGpu());
  const weights = o.weights ?? randomWeights(o.config);
  const maxBatch = Math.max(...o.batches);
  const rows: EngineBenchRow[] = [];
  const gemms: GemmBenchRow[] = [];
  const gpuMemoryMB: Record<string, number> = {};
  const gemmChoices: Record<string, Record<string, string>> = {};
  const agreementBatch = Math.min(8, maxBatch);
  const agreementFrames = randomFrames(o.config, agreementBatch, 11);
  const logitsBy: Record<string, Float32Array> = {};
  for (const precision of o.precisions) {
    const type = precision === 'fp16' ? 'f16' : 'f32';
    const gemm = o.gemm === 'tuned' ? tunedPolicy(gpu, type, readTuningCache()) : o.gemm;
    log(`opening ${o.config.name} ${precision} (max batch ${maxBatch})`);
    const engine = await WebGpuEngine.open({ config: o.config, weights, precision, maxBatch, gpu, gemm });
    gpuMemoryMB[precision] = Math.round(engine.gpuBytes / 2 ** 20);
    gemmChoices[precision] = { ...engine.gemmChoices };
    try {
      logitsBy[precision] = await engine.infer({ kind: 'rgb', data: agreementFrames, count: agreementBatch });
      for (const batch of o.batches) {
        const row = await timeEngineBatch(engine, o.config, precision, batch, o.iterations, o.warmup);
        rows.push(row);
        log(`  batch ${batch}: ${row.medianMs.toFixed(2)} ms`);
      }
    } finally {
      await engine.close();
    }
    const shapes = gemmShapes(o.config);
    for (const role of Object.keys(shapes) as GemmRole[]) {
      const { N, K, epilogue } = shapes[role];
      const M = gemmRows(o.config, role, maxBatch);
      const variantName = gemmChoices[precision][role];
      const variant = parseVariant(variantName) ?? { kind: 'portable' as const };
      // Median of several timings: a single reading on the H100 now and then comes out 2-4x slow
      // (fc1 at 39 TFLOP/s beside qkv at 152 in one run), and a table quotes what a pass sees.
      const runs: number[] = [];
      for (let r = 0; r < GEMM_TIMING_RUNS; r++)
        runs.push((await timeGemm(gpu.device, variant, type, { M, N, K, epilogue })).ms);
      const ms = median(runs);
      gemms.push({
        precision,
        role,
        M,
        N,
        K,
        variant: variantName,
        ms,
        tflops: (2 * M * N * K) / (ms * 1e-3) / 1e12,
      });
    }
  }
  for (const r of rows) {
    const base = rows.find((b) => b.precision === 'fp32' && b.batch === r.batch);
    if (base) {
      const s = speedupsOver(r, base);
      r.speedupVsFp32 = s.latency;
      r.gpuSpeedupVsFp32 = s.gpu;
    }
  }
  let agreement: EngineBenchResult['agreement'];
  if (logitsBy.fp32 && logitsBy.fp16) {
    const C = o.config.numClasses;
    let agree = 0;
    let maxAbsDiff = 0;
    let maxAbsLogit = 0;
    for (let i = 0; i < agreementBatch; i++) {
      const a = logitsBy.fp32.subarray(i * C, (i + 1) * C);
      const b = logitsBy.fp16.subarray(i * C, (i + 1) * C);
      if (a.indexOf(Math.max(...a)) === b.indexOf(Math.max(...b))) agree++;
      for (let c = 0; c < C; c++) {
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[c] - b[c]));
        maxAbsLogit = Math.max(maxAbsLogit, Math.abs(a[c]));
      }
    }
    agreement = { batch: agreementBatch, top1Agreement: agree / agreementBatch, maxAbsDiff, maxAbsLogit };
  }
  return {
    adapter: gpu.info.description || gpu.info.device,
    model: o.config.name,
    rows,
    gemms,
    gpuMemoryMB,
    gemmChoices,
    agreement,
  };
}

export function formatEngineBench(r: EngineBenchResult): string {
  const out: string[] = [`model ${r.model} on ${r.adapter}`, ''];
  out.push(
    formatLatencyTable(r.rows, 'FP32', (x) => {
      const { speedupVsFp32, gpuSpeedupVsFp32 } = x as EngineBenchRow;
      return speedupVsFp32 ? { latency: speedupVsFp32, gpu: gpuSpeedupVsFp32 } : undefined;
    }),
  );
  out.push(
    '',
    formatGemmTable(r.gemms, 'kernel', 'TFLOP/s', (g) => g.tflops),
  );
  out.push('', formatGpuMemory('GPU memory held by the engine', r.gpuMemoryMB));
  if (r.agreement) {
    const a = r.agreement;
    out.push(
      `FP16 vs FP32 on ${a.batch} random frames: top-1 agreement ${(a.top1Agreement * 100).toFixed(0)}%, max |logit diff| ${a.maxAbsDiff.toExponential(2)} (max |logit| ${a.maxAbsLogit.toFixed(2)})`,
    );
  }
  return out.join('\n');
}
