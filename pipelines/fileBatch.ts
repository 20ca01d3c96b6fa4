import { catchError, EMPTY, from, mergeMap, type Observable } from 'rxjs';
import { type BatchOptions, batchFrames } from '../src/operators/batchFrames.js';
import { type DecodeOptions, decodeFrames } from '../src/video/decodeFrames.js';
import type { FrameBatch } from '../src/video/frame.js';
import type { VideoSource } from '../src/video/source.js';

export interface FileBatchOptions extends Omit<DecodeOptions, 'maxUnreleased' | 'policy' | 'maxQueued'> {
  maxBatch: number;
  /**
   * Default 250 ms. Files have no latency to keep, so batches should fill: 1080p H.264 decodes at
   * ~380 frames/s on the H100 machine, 85 ms per 32 frames, and a 50 ms delay sent batches of
   * varying sizes under 32 (13-23 frames in bench/pipeline-mock.mjs), each new size costing the
   * engine a forward plan (0.48 s of a 4.9 s classify run in a CPU profile there). A stalled decoder
   * still gets its frames out within the delay.
   */
  maxDelayMs?: number;
  /** Files decoded at the same time (default 2). */
  concurrency?: number;
  /** Batches out and unreleased before decoding pauses (default 3: double buffering plus one being filled). */
  maxInFlight?: number;
  /** Frames each decoder may have out before its ffmpeg is paused (default 4). */
  maxUnreleasedPerFile?: number;
  /**
   * When given, a file that fails is reported here (after the batches of its good frames) and the
   * other files go on; without it the first failure ends the whole stream.
   */
  onFileError?: (file: VideoSource, error: Error) => void;
  /** Decode options of one file over the shared ones (say, keyframes only where its sampling allows). */
  decodeFor?: (file: VideoSource) => Partial<DecodeOptions>;
  /** Frames written straight into the engine's batches (batchFrames' `beginBatch`). */
  beginBatch?: BatchOptions['beginBatch'];
}

/**
 * Files -> sampled frames -> batches, never dropping a frame: when the consumer is slow (batches
 * not released), decoders pause ffmpeg's stdout. Errors with the first bad file's VideoSourceError,
 * after the batches of the frames that did decode. Consumers must call `batch.release()`.
 */
export function fileBatch(
  files: (string | VideoSource)[],
  options: FileBatchOptions,
): Observable<FrameBatch> {
  const {
    maxBatch,
    maxDelayMs = 250,
    concurrency = 2,
    maxInFlight = 3,
    maxUnreleasedPerFile = 4,
    onFileError,
    decodeFor,
    beginBatch,
    ...decode
  } = options;
  return from(files).pipe(
    mergeMap((file) => {
      const src: VideoSource = typeof file === 'string' ? { path: file } : file;
      // decode.sample samples inside ffmpeg where it can: frames left out are never scaled or piped.
      const frames = decodeFrames(
        { ...src, live: false },
        { ...decode, ...decodeFor?.(src), maxUnreleased: maxUnreleasedPerFile },
      );
      return onFileError
        ? frames.pipe(
            catchError((e: Error) => {
              onFileError(src, e);
              return EMPTY;
            }),
          )
        : frames;
    }, concurrency),
    batchFrames({ maxBatch, maxDelayMs, maxInFlight, beginBatch }),
  );
}
