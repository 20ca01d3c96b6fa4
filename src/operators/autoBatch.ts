import type { Engine } from '../engine/types.js';
import { OptionError } from '../errors.js';

/** Engine time for one batch of `size` frames, ms (median of a few timed calls after warm-up). */
export interface BatchLatency {
  size: number;
  ms: number;
}

export interface BatchingChoice {
  maxBatch: number;
  maxDelayMs: number;
  /** Frames per second all sources together are expected to deliver. */
  totalFps: number;
  /** Smallest batch whose throughput keeps up with `totalFps` (with headroom), if any does. */
  keepsUpAt?: number;
  /** One line for the log: why these numbers. */
  reason: string;
}

/** Batch sizes worth timing: powers of two up to the engine's largest batch, and that batch. */
export function candidateSizes(maxBatch: number): number[] {
  const sizes: number[] = [];
  for (let b = 1; b < maxBatch; b *= 2) sizes.push(b);
  sizes.push(maxBatch);
  return sizes;
}

/**
 * Times the engine on blank frames at a few batch sizes. The first calls compile and allocate,
 * so each size gets `warmup` untimed calls; the median of `reps` timed calls is kept.
 */
export async function measureBatchLatency(
  engine: Engine,
  options: { sizes?: number[]; warmup?: number; reps?: number } = {},
): Promise<BatchLatency[]> {
  const S = engine.config.imageSize;
  const sizes = options.sizes ?? candidateSizes(engine.maxBatch);
  const out: BatchLatency[] = [];
  for (const size of sizes) {
    const data = new Uint8Array(size * S * S * 3);
    const input = { kind: 'rgb' as const, data, count: size };
    for (let i = 0; i < (options.warmup ?? 2); i++) await engine.infer(input);
    const times: number[] = [];
    for (let i = 0; i < (options.reps ?? 3); i++) {
      const t0 = performance.now();
      await engine.infer(input);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    out.push({ size, ms: times[Math.floor(times.length / 2)] });
  }
  return out;
}

/** Latency at any batch size, by linear interpolation between (or extrapolation beyond) measured sizes. */
export function latencyAt(table: BatchLatency[], size: number): number {
  const t = [...table].sort((a, b) => a.size - b.size);
  if (t.length === 0) throw new OptionError('latencyAt: no measurements', { input: 'table' });
  if (t.length === 1) return (t[0].ms * size) / t[0].size;
  let i = 1;
  while (i < t.length - 1 && t[i].size < size) i++;
  const a = t[i - 1];
  const b = t[i];
  return Math.max(0, a.ms + ((b.ms - a.ms) * (size - a.size)) / (b.size - a.size));
}

/**
 * Picks batching parameters from the sources' frame rates and the measured engine latency:
 * - maxDelayMs = one frame interval of the fastest source (its own rate, before sampling), so no
 *   frame waits for companions longer than the gap to its source's next frame (the bound holds for
 *   every source);
 * - the smallest batch b whose throughput b / L(b) covers all sources together with 25 % headroom
 *   keeps the engine fed without queueing; maxBatch is twice that (room to catch up after a
 *   hiccup, since a batch only fills when frames are waiting), at least what arrives within
 *   maxDelayMs, at most the engine's largest batch.
 */
export function chooseBatching(o: {
  /** Frames per second each source delivers to the batcher (after sampling). */
  fps: number[];
  /** Each source's own frame rate, before sampling (default: `fps`): bounds the wait. */
  sourceFps?: number[];
  latency: BatchLatency[];
  engineMaxBatch: number;
}): BatchingChoice {
  const fps = o.fps.filter((f) => f > 0);
  const native = (o.sourceFps ?? o.fps).filter((f) => f > 0);
  const engineMax = Math.max(1, o.engineMaxBatch);
  if (fps.length === 0) {
    return {
      maxBatch: engineMax,
      maxDelayMs: 50,
      totalFps: 0,
      reason: 'no source frame rate known: engine maximum, 50 ms',
    };
  }
  const totalFps = fps.reduce((a, b) => a + b, 0);
  const maxDelayMs = Math.max(1, Math.floor((1000 / Math.max(...fps, ...native)) * 10) / 10);
  let keepsUpAt: number | undefined;
  for (let b = 1; b <= engineMax; b++) {
    if ((b * 1000) / Math.max(1e-3, latencyAt(o.latency, b)) >= totalFps * 1.25) {
      keepsUpAt = b;
      break;
    }
  }
  const arriving = Math.ceil((totalFps * maxDelayMs) / 1000);
  const maxBatch = Math.min(engineMax, Math.max(1, arriving, (keepsUpAt ?? engineMax) * 2));
  const reason =
    keepsUpAt === undefined
      ? `sources deliver ${totalFps.toFixed(1)} fps but the engine manages ${((engineMax * 1000) / latencyAt(o.latency, engineMax)).toFixed(1)} fps at its largest batch: expect drops`
      : `sources deliver ${totalFps.toFixed(1)} fps; batch ${keepsUpAt} (${latencyAt(o.latency, keepsUpAt).toFixed(1)} ms) keeps up with 25 % headroom; wait at most one frame interval of the fastest source (${maxDelayMs} ms)`;
  return { maxBatch, maxDelayMs, totalFps, keepsUpAt, reason };
}
