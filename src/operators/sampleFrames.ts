import { type MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { Frame } from '../video/frame.js';
import { checkSampleOptions, FrameSampler, type SampleOptions } from '../video/frameSampler.js';

export type { SampleOptions } from '../video/frameSampler.js';

/**
 * Keeps the frames the user asked for, per stream (see FrameSampler): every Nth decoded frame, or
 * at most `fps` frames per second of stream time. Skipped frames are released at once. A live
 * source should sample inside decodeFrames instead (its `sample` option), before its drop policy.
 */
export function sampleFrames(
  options: SampleOptions,
  hooks: { onSkip?: (frame: Frame) => void } = {},
): MonoTypeOperatorFunction<Frame> {
  // Checked here, not per subscription, so that bad options throw where the operator is made.
  checkSampleOptions(options);
  return (source) =>
    new Observable<Frame>((subscriber) => {
      const sampler = new FrameSampler(options);
      return source.subscribe({
        next: (f) => {
          if (sampler.keep(f)) subscriber.next(f);
          else {
            hooks.onSkip?.(f);
            f.release?.();
          }
        },
        error: (e) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
