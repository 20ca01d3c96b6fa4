import { catchError, EMPTY, from, mergeMap, type Observable } from 'rxjs';
import { batchFrames } from '../src/operators/batchFrames.js';
import { type DecodeOptions, decodeFrames } from '../src/operators/decodeFrames.js';
import { type SampleOptions, sampleFrames } from '../src/operators/sampleFrames.js';
import type { FrameBatch } from '../src/video/frame.js';
import type { VideoSource } from '../src/video/source.js';

export interface FileBatchOptions extends Omit<DecodeOptions, 'maxUnreleased' | 'policy' | 'maxQueued'> {
  /** Which decoded frames to keep (default: all). */
  sample?: SampleOptions;
  maxBatch: number;
  /** Default 50 ms: with files, batches normally fill long before. */
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
}

/**
 * Files -> frames -> sample -> batches, never dropping a frame: when the consumer is slow (batches
 * not released), decoders pause ffmpeg's stdout. Errors with the first bad file's VideoSourceError,
 * after the batches of the frames that did decode. Consumers must call `batch.release()`.
 */
export function fileBatch(
  files: (string | VideoSource)[],
  options: FileBatchOptions,
): Observable<FrameBatch> {
  const {
    sample,
    maxBatch,
    maxDelayMs = 50,
    concurrency = 2,
    maxInFlight = 3,
    maxUnreleasedPerFile = 4,
    onFileError,
    ...decode
  } = options;
  return from(files).pipe(
    mergeMap((file) => {
      const src: VideoSource = typeof file === 'string' ? { path: file } : file;
      const frames = decodeFrames(
        { ...src, live: false },
        { ...decode, maxUnreleased: maxUnreleasedPerFile },
      );
      const sampled = sample ? frames.pipe(sampleFrames(sample)) : frames;
      return onFileError
        ? sampled.pipe(
            catchError((e: Error) => {
              onFileError(src, e);
              return EMPTY;
            }),
          )
        : sampled;
    }, concurrency),
    batchFrames({ maxBatch, maxDelayMs, maxInFlight }),
  );
}
