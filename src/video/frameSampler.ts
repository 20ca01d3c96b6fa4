import { OptionError } from '../errors.js';
import type { Frame } from './frame.js';

export type SampleOptions = { every: number } | { fps: number };

/** Throws an OptionError unless exactly one of `every` (integer >= 1) or `fps` (> 0) is given. */
export function checkSampleOptions(options: SampleOptions): { every?: number; fps?: number } {
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
  return { every, fps };
}

// Frame times are in ms with sub-ms rounding; a small slack lets 30 fps -> 10 fps keep every 3rd frame.
const SLACK = 0.01;

/**
 * Decides which frames the user asked for, per stream: every Nth decoded frame (by frame index,
 * so drops do not shift the pattern), or at most `fps` frames per second of stream time (by
 * ptsMs, so VFR sources are sampled evenly). Pure: the sampleFrames operator and decodeFrames'
 * `sample` option (sampling before the live drop policy) both use it.
 */
export class FrameSampler {
  private readonly every: number | undefined;
  private readonly periodMs: number;
  private readonly slack: number;
  private readonly due = new Map<string, { next: number; last: number }>();

  constructor(options: SampleOptions) {
    const { every, fps } = checkSampleOptions(options);
    this.every = every;
    this.periodMs = fps ? 1000 / fps : 0;
    this.slack = this.periodMs * SLACK;
  }

  keep(f: Pick<Frame, 'streamId' | 'index' | 'ptsMs'>): boolean {
    if (this.every !== undefined) return f.index % this.every === 0;
    const d = this.due.get(f.streamId);
    // First frame of a stream, or timestamps went back (a reconnect restarts them): start over.
    if (!d || f.ptsMs < d.last) {
      this.due.set(f.streamId, { next: f.ptsMs + this.periodMs, last: f.ptsMs });
      return true;
    }
    d.last = f.ptsMs;
    if (f.ptsMs + this.slack < d.next) return false;
    // Stay on the grid; after a gap, skip the missed slots instead of bursting.
    d.next += this.periodMs * Math.max(1, Math.floor((f.ptsMs + this.slack - d.next) / this.periodMs) + 1);
    return true;
  }
}

/**
 * FrameSampler's rule as an ffmpeg `select` expression, so that ffmpeg drops the unwanted frames
 * before scaling them and piping them over: `n` is the decoded index, `t` the pts in seconds.
 * Registers: 0 the next slot, 1 the last time seen, 2 set once a frame was seen. A frame without a
 * pts (t is NAN) is always kept, for `every` too: SelectedFrames can only match such frames in
 * order, and FrameSampler then decides (by index, or by the wall clock).
 */
export function selectExpression(options: SampleOptions): string {
  const { every, fps } = checkSampleOptions(options);
  if (every !== undefined) return `if(isnan(t),1,not(mod(n,${every})))`;
  const p = 1 / (fps as number);
  const s = p * SLACK;
  const restart = 'st(2,1);st(1,t);st(0,t+P);1';
  const onGrid = 'st(1,t);if(lt(t+S,ld(0)),0,st(0,ld(0)+P*max(1,floor((t+S-ld(0))/P)+1));1)';
  return `if(isnan(t),1,if(not(ld(2))+lt(t,ld(1)),${restart},${onGrid}))`
    .replaceAll('P', String(p))
    .replaceAll('S', String(s));
}
