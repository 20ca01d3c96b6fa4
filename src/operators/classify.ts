import { finalize, from, mergeMap, type OperatorFunction, tap } from 'rxjs';
import { topK } from '../engine/postprocess.js';
import { DEFAULT_YUV_COLOR, type Engine, type EngineInput } from '../engine/types.js';
import { yuvToRgbBytes } from '../engine/yuv.js';
import { InputError } from '../errors.js';
import type { Prediction } from '../predictions.js';
import type { FrameBatch, FrameInfo } from '../video/frame.js';
import { isEngineFrameBatch } from './batchFrames.js';

export interface ClassifyOptions {
  /** Classes per prediction (default 5). */
  topK?: number;
  /** Class names; default: the engine's config labels, else "class N". */
  labels?: readonly string[];
  /** Batches in the engine at once (default 2: one computing while the next uploads). */
  maxInFlight?: number;
  /**
   * Frames whose pixels their prediction should carry (`image`, copied before the batch buffer is
   * released): a thumbnail goes out with its prediction, with no side table to match them up.
   */
  keepPixels?: (frame: FrameInfo) => boolean;
  /** Called after each batch with its size and engine time (metrics). */
  onBatch?: (stats: { count: number; engineMs: number }) => void;
  /**
   * 'fail' (default): an engine error ends the stream. 'skip': the batch is dropped, `onError`
   * is told, and the stream goes on (live feeds, where one bad batch must not stop the rest).
   */
  errors?: 'fail' | 'skip';
  onError?: (error: unknown, frames: FrameInfo[]) => void;
  now?: () => number;
}

/** What the engine is given for a batch: its bytes as they are, with their layout and each frame's colour. */
export function engineInput(batch: FrameBatch): EngineInput {
  if (batch.pixelFormat !== 'nv12') return { kind: 'rgb', data: batch.data, count: batch.count };
  const color = batch.color ?? batch.frames.map((f) => f.color ?? DEFAULT_YUV_COLOR);
  return { kind: 'nv12', data: batch.data, count: batch.count, color };
}

/**
 * The engine's run of a batch: submitted where batchFrames wrote it into the engine's own memory
 * (no copy), else handed to infer().
 */
function runBatch(engine: Engine, batch: FrameBatch): Promise<Float32Array> {
  return isEngineFrameBatch(batch) ? batch.submit() : engine.infer(engineInput(batch));
}

/**
 * Batches in, one prediction per frame out, in input order. At most `maxInFlight` batches are
 * inside the engine; each batch's buffer is released once the engine has read it.
 */
export function classify(
  engine: Engine,
  options: ClassifyOptions = {},
): OperatorFunction<FrameBatch, Prediction> {
  const topKAsked = options.topK ?? 5;
  if (!Number.isInteger(topKAsked) || topKAsked < 1)
    throw new InputError(`classify: topK must be a positive integer, got ${JSON.stringify(options.topK)}`, {
      input: 'topK',
    });
  const k = Math.min(topKAsked, engine.config.numClasses);
  const labels = options.labels ?? engine.config.labels;
  const now = options.now ?? Date.now;
  const C = engine.config.numClasses;
  const keepPixels = options.keepPixels;
  return (source) => {
    // Completion order of overlapping batches is the engine's order, but emission is chained
    // explicitly so that predictions leave in input order whatever the backend does.
    let previous: Promise<unknown> = Promise.resolve();
    // Batches waiting for a turn inside mergeMap: released if the stream ends before their turn
    // (a batch in the engine's memory holds one of its slots until submitted or cancelled).
    const waiting = new Set<FrameBatch>();
    return source.pipe(
      tap((batch) => waiting.add(batch)),
      mergeMap((batch) => {
        waiting.delete(batch);
        const started = performance.now();
        const S = engine.config.imageSize;
        // Copied first: an engine batch's memory is gone once submitted.
        const images = keepPixels ? batch.frames.map((f, i) => thumbnail(batch, f, i, S)) : undefined;
        const inference = runBatch(engine, batch);
        // Handled through `ordered`, but only once earlier batches finish: until then a rejection would be
        // 'unhandled', which ends a Node process by default.
        inference.catch(() => undefined);
        const ordered = previous.then(() => inference);
        previous = ordered.catch(() => undefined);
        const run = async (): Promise<Prediction[]> => {
          let logits: Float32Array;
          try {
            logits = await ordered;
          } catch (e) {
            batch.release();
            if (options.errors === 'skip') {
              options.onError?.(e, batch.frames);
              return [];
            }
            throw e;
          }
          options.onBatch?.({ count: batch.count, engineMs: performance.now() - started });
          batch.release();
          const t = now();
          return batch.frames.map((f, i) => ({
            streamId: f.streamId,
            frame: f.index,
            ptsMs: f.ptsMs,
            receivedAtMs: f.receivedAtMs,
            latencyMs: t - f.receivedAtMs,
            ...(f.file !== undefined && { file: f.file }),
            top: topK(logits, k, labels, i * C, C),
            ...(images?.[i] && { image: images[i] }),
          }));
        };
        return from(run()).pipe(mergeMap((ps) => from(ps)));
      }, options.maxInFlight ?? 2),
      finalize(() => {
        for (const b of waiting) b.release();
        waiting.clear();
      }),
    );
  };

  /** Frame i's pixels as RGB, where keepPixels asks for them (thumbnails are RGB whatever the frames travelled as). */
  function thumbnail(batch: FrameBatch, f: FrameInfo, i: number, S: number) {
    if (!keepPixels?.(f)) return undefined;
    const frameBytes = batch.data.length / batch.count;
    const bytes = batch.data.subarray(i * frameBytes, (i + 1) * frameBytes);
    const rgb =
      batch.pixelFormat === 'nv12'
        ? yuvToRgbBytes(bytes, 'nv12', S, S, f.color ?? batch.color ?? DEFAULT_YUV_COLOR)
        : bytes.slice();
    return { rgb, width: S, height: S };
  }
}
