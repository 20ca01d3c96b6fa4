import type { ViTConfig } from '../src/engine/config.js';
import { randomFrames } from '../src/engine/random-weights.js';
import type { Engine } from '../src/engine/types.js';
import { formatTable } from '../src/util/table.js';

export interface LatencyRow {
  precision: string;
  batch: number;
  medianMs: number;
  p90Ms: number;
  imagesPerSec: number;
  pipelinedImagesPerSec: number;
  /** GPU time of the forward pass alone (timestamp queries; absent where the adapter has none). */
  gpuMs?: number;
}

/** Speedups of `row` over `base` (same batch): median latency, and GPU time where both have it. */
export function speedupsOver(row: LatencyRow, base: LatencyRow): { latency: number; gpu?: number } {
  return {
    latency: base.medianMs / row.medianMs,
    gpu: base.gpuMs && row.gpuMs ? base.gpuMs / row.gpuMs : undefined,
  };
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

/**
 * Untimed work before a batch size is timed: at least this long, and at least `warmup` calls.
 * A handful of calls was too little on the H100: batch-1 latency read 7-9 ms right after other
 * batch sizes or an engine open, ~3 ms after a second of steady work (PyTorch's batch 1 varied
 * the same way, 2.7 to 6 ms), as the GPU clocks up under sustained load.
 */
const WARMUP_MS = 1500;

/**
 * One engine at one batch size: warm-up calls (see WARMUP_MS), then `iterations` calls one at a time
 * (latency: upload of uint8 frames, forward pass, readback of logits), then `iterations` calls
 * issued together (throughput with both slots busy: the next batch uploads while one computes).
 */
export async function timeEngineBatch(
  engine: Engine,
  config: ViTConfig,
  precision: string,
  batch: number,
  iterations: number,
  warmup: number,
): Promise<LatencyRow> {
  const input = { kind: 'rgb' as const, data: randomFrames(config, batch), count: batch };
  const w0 = performance.now();
  for (let i = 0; i < warmup || performance.now() - w0 < WARMUP_MS; i++) await engine.infer(input);
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await engine.infer(input);
    times.push(performance.now() - t0);
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: iterations }, () => engine.infer(input)));
  const pipelined = (iterations * batch) / ((performance.now() - t0) / 1000);
  const gpuMs = await engine.forwardGpuMs?.(input);
  const s = sorted(times);
  const medianMs = s[Math.floor(s.length / 2)];
  return {
    precision,
    batch,
    medianMs,
    p90Ms: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))],
    imagesPerSec: (batch / medianMs) * 1000,
    pipelinedImagesPerSec: pipelined,
    gpuMs,
  };
}

/**
 * The latency table both benches print; the last columns are speedups against `baseline`, of the
 * median latency and of the forward pass's GPU time.
 */
export function formatLatencyTable(
  rows: LatencyRow[],
  baseline: string,
  speedup: (r: LatencyRow) => { latency: number; gpu?: number } | undefined,
): string {
  const times = (x?: number) => (x ? `${x.toFixed(2)}x` : '-');
  return formatTable(
    [
      'precision',
      'batch',
      'median ms',
      'p90 ms',
      'GPU ms',
      'img/s',
      'img/s (2 in flight)',
      `speedup vs ${baseline}`,
      'GPU-time speedup',
    ],
    rows.map((x) => {
      const s = speedup(x);
      return [
        x.precision,
        x.batch,
        x.medianMs.toFixed(2),
        x.p90Ms.toFixed(2),
        x.gpuMs?.toFixed(2) ?? '-',
        x.imagesPerSec.toFixed(0),
        x.pipelinedImagesPerSec.toFixed(0),
        times(s?.latency),
        times(s?.gpu),
      ];
    }),
  );
}

export interface GemmRateRow {
  precision: string;
  role: string;
  M: number;
  N: number;
  K: number;
  variant: string;
  ms: number;
}

/** Per-GEMM time and rate; `rate` is TFLOP/s (float) or TOP/s (int8), named by `rateHeader`. */
export function formatGemmTable<R extends GemmRateRow>(
  rows: R[],
  kernelHeader: string,
  rateHeader: string,
  rate: (r: R) => number,
): string {
  return formatTable(
    ['precision', 'GEMM', 'M x N x K', kernelHeader, 'ms', rateHeader],
    rows.map((g) => [
      g.precision,
      g.role,
      `${g.M}x${g.N}x${g.K}`,
      g.variant,
      g.ms.toFixed(3),
      rate(g).toFixed(1),
    ]),
  );
}

export function formatGpuMemory(label: string, mb: Record<string, number>): string {
  return `${label}: ${Object.entries(mb)
    .map(([p, n]) => `${p} ${n} MiB`)
    .join(', ')}`;
}
