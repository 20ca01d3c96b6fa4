import type { Engine } from '../src/engine/types.js';
import { type BatchingChoice, chooseBatching, measureBatchLatency } from '../src/operators/autoBatch.js';
import type { SampleOptions } from '../src/operators/sampleFrames.js';
import { type Logger, silentLogger } from '../src/util/logger.js';
import { probeMedia } from '../src/video/probe.js';
import { resolveSource, type VideoSource } from '../src/video/source.js';

/**
 * Automatic batching lives in pipelines/, not operators/: it probes the feeds' files (video) and times the
 * engine, composing rooms below it, while operators/autoBatch.ts keeps the pure choice (chooseBatching).
 */
export interface BatchedFeed extends VideoSource {
  sample?: SampleOptions;
}

/** A feed's own frame rate (probed for files, `assumeFps` for cameras and URLs) and what it delivers after sampling. */
export async function feedFps(
  feed: BatchedFeed,
  assumeFps = 30,
): Promise<{ source: number; delivered: number }> {
  const input = feed.url ?? feed.path;
  const src = input ? resolveSource(feed) : undefined;
  let fps = assumeFps;
  if (src?.kind === 'file') fps = (await probeMedia(src.input, 5000)).fps ?? assumeFps;
  const sample = feed.sample;
  if (sample && 'fps' in sample) return { source: fps, delivered: Math.min(fps, sample.fps) };
  if (sample && 'every' in sample) return { source: fps, delivered: fps / sample.every };
  return { source: fps, delivered: fps };
}

/**
 * Chooses maxBatch and maxDelayMs for these feeds on this engine (see chooseBatching): measures the
 * engine at a few batch sizes with warm-up calls on blank frames, which also warms it for the feeds.
 */
export async function autoBatching(
  engine: Engine,
  feeds: BatchedFeed[],
  logger: Logger = silentLogger,
): Promise<BatchingChoice & { latency: { size: number; ms: number }[] }> {
  const rates = await Promise.all(feeds.map((f) => feedFps(f)));
  const fps = rates.map((r) => r.delivered);
  const latency = await measureBatchLatency(engine);
  const choice = chooseBatching({
    fps,
    sourceFps: rates.map((r) => r.source),
    latency,
    engineMaxBatch: engine.maxBatch,
  });
  logger.info(
    { maxBatch: choice.maxBatch, maxDelayMs: choice.maxDelayMs, fps, latency },
    `batching chosen: ${choice.reason}`,
  );
  return { ...choice, latency };
}
