import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames } from '../../src/video/decodeFrames.js';
import type { SourceEvent } from '../../src/video/events.js';
import type { Frame } from '../../src/video/frame.js';
import { makeClip, TempDir } from './media.js';

const tmp = new TempDir();
let clip: string;
beforeAll(() => {
  clip = makeClip(tmp.file('flow.mp4'), { frames: 40, size: '64x48' });
});
afterAll(() => tmp.dispose());

// The consumer holds every frame until stats say ffmpeg decoded all 40, then releases: the queued frames come out, then completion.
function onEvent(e: SourceEvent, events: SourceEvent[], held: Frame[]) {
  events.push(e);
  if (e.type === 'stats' && e.frames === 40) for (const f of held.splice(0)) f.release?.();
}

describe('live flow control', () => {
  it('drop-newest keeps the first frames and counts the rest as dropped', async () => {
    const got: number[] = [];
    const events: SourceEvent[] = [];
    const held: Frame[] = [];
    await new Promise<void>((resolve, reject) => {
      decodeFrames(
        { path: clip, live: true },
        {
          size: 8,
          maxUnreleased: 3,
          maxQueued: 2,
          policy: 'drop-newest',
          statsIntervalMs: 10,
          onEvent: (e) => onEvent(e, events, held),
        },
      ).subscribe({
        next: (f) => {
          got.push(f.index);
          held.push(f);
        },
        error: reject,
        complete: resolve,
      });
    });
    expect(got).toEqual([0, 1, 2, 3, 4]);
    const ended = events.find((e) => e.type === 'ended') as Extract<SourceEvent, { type: 'ended' }>;
    expect(ended.frames).toBe(40);
    expect(ended.dropped).toBe(35);
  });

  it('drop-oldest delivers the newest frames', async () => {
    const got: number[] = [];
    const events: SourceEvent[] = [];
    const held: Frame[] = [];
    await new Promise<void>((resolve, reject) => {
      decodeFrames(
        { path: clip, live: true },
        {
          size: 8,
          maxUnreleased: 3,
          maxQueued: 2,
          policy: 'drop-oldest',
          statsIntervalMs: 10,
          onEvent: (e) => onEvent(e, events, held),
        },
      ).subscribe({
        next: (f) => {
          got.push(f.index);
          held.push(f);
        },
        error: reject,
        complete: resolve,
      });
    });
    expect(got).toEqual([0, 1, 2, 38, 39]);
    const ended = events.find((e) => e.type === 'ended') as Extract<SourceEvent, { type: 'ended' }>;
    expect(ended.dropped).toBe(35);
  });

  it('sample: a burst is thinned to the wanted frames before the drop policy, so none of them is dropped', async () => {
    const got: number[] = [];
    const skipped: number[] = [];
    const events: SourceEvent[] = [];
    const held: Frame[] = [];
    await new Promise<void>((resolve, reject) => {
      decodeFrames(
        { path: clip, live: true },
        {
          size: 8,
          maxUnreleased: 3,
          maxQueued: 1,
          policy: 'drop-oldest',
          sample: { every: 10 },
          onSkip: (f) => skipped.push(f.index),
          statsIntervalMs: 10,
          onEvent: (e) => onEvent(e, events, held),
        },
      ).subscribe({
        next: (f) => {
          got.push(f.index);
          held.push(f);
        },
        error: reject,
        complete: resolve,
      });
    });
    expect(got).toEqual([0, 10, 20, 30]);
    expect(skipped).toHaveLength(36);
    const ended = events.find((e) => e.type === 'ended') as Extract<SourceEvent, { type: 'ended' }>;
    expect([ended.frames, ended.dropped]).toEqual([40, 0]);
  });

  it('a file (not live) loses nothing with the same consumer', async () => {
    const got: number[] = [];
    const held: Frame[] = [];
    await new Promise<void>((resolve, reject) => {
      decodeFrames(clip, { size: 8, maxUnreleased: 3, policy: 'drop-oldest' }).subscribe({
        next: (f) => {
          got.push(f.index);
          held.push(f);
          if (held.length === 3)
            setTimeout(() => {
              for (const h of held.splice(0)) h.release?.();
            }, 20);
        },
        error: reject,
        complete: resolve,
      });
    });
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });
});
