import { type MonoTypeOperatorFunction, Observable } from 'rxjs';
import { OptionError } from '../errors.js';
import type { Frame } from '../video/frame.js';

export type SampleOptions = { every: number } | { fps: number };

/**
 * Keeps the frames the user asked for, per stream: every Nth decoded frame (by frame index, so drops
 * upstream do not shift the pattern), or at most `fps` frames per second of stream time (by ptsMs,
 * so VFR sources are sampled evenly). Skipped frames are released at once.
 */
export function sampleFrames(
  options: SampleOptions,
  hooks: { onSkip?: (frame: Frame) => void } = {},
): MonoTypeOperatorFunction<Frame> {
  const every = 'every' in options ? options.every : undefined;
  const fps = 'fps' in options ? options.fps : undefined;
  if (every !== undefined && fps !== undefined)
    throw new OptionError('sampleFrames: give every or fps, not both', { input: 'every' });
  if (every === undefined && fps === undefined)
    throw new OptionError('sampleFrames: give every (keep every n-th frame) or fps (frames per second)', {
      input: 'every',
    });
  if (every !== undefined && !(Number.isInteger(every) && every >= 1))
    throw new OptionError(`sampleFrames: every must be an integer >= 1, got ${every}`, { input: 'every' });
  if (fps !== undefined && !(fps > 0))
    throw new OptionError(`sampleFrames: fps must be > 0, got ${fps}`, { input: 'fps' });
  const periodMs = fps ? 1000 / fps : 0;
  // Frame times are in ms with sub-ms rounding; allow a small slack so 30 fps -> 10 fps keeps every 3rd frame.
  const slack = periodMs * 0.01;

  return (source) =>
    new Observable<Frame>((subscriber) => {
      const due = new Map<string, { next: number; last: number }>();
      const keep = (f: Frame): boolean => {
        if (every !== undefined) return f.index % every === 0;
        const d = due.get(f.streamId);
        // First frame of a stream, or timestamps went back (a reconnect restarts them): start over.
        if (!d || f.ptsMs < d.last) {
          due.set(f.streamId, { next: f.ptsMs + periodMs, last: f.ptsMs });
          return true;
        }
        d.last = f.ptsMs;
        if (f.ptsMs + slack < d.next) return false;
        // Stay on the grid; after a gap, skip the missed slots instead of bursting.
        d.next += periodMs * Math.max(1, Math.floor((f.ptsMs + slack - d.next) / periodMs) + 1);
        return true;
      };
      return source.subscribe({
        next: (f) => {
          if (keep(f)) subscriber.next(f);
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
