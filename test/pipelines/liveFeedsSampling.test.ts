import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveFeeds } from '../../pipelines/liveFeeds.js';
import type { SourceEvent } from '../../src/video/events.js';
import type { FrameBatch } from '../../src/video/frame.js';
import { makeClip, TempDir } from '../video/media.js';

const tmp = new TempDir();
let clip: string;
beforeAll(() => {
  clip = makeClip(tmp.file('burst.mp4'), { frames: 40, size: '64x48' });
});
afterAll(() => tmp.dispose());

// Issue #25 item 2: frames that arrive in a burst (an HLS segment at once) were dropped before
// sampling, so the live drop policy threw away wanted frames for unwanted ones. A live file read
// without -re is one 40-frame burst; the consumer holds its batches until ffmpeg has decoded all.
describe('liveFeeds samples before the live drop policy', () => {
  it('only wanted frames are ever dropped, and every frame is either sampled out, delivered or dropped', async () => {
    const events: SourceEvent[] = [];
    const delivered: number[] = [];
    const skipped: number[] = [];
    const held: FrameBatch[] = [];
    let decodedAll = false;
    const feeds = liveFeeds([{ id: 'burst', path: clip, live: true, sample: { every: 5 } }], {
      size: 8,
      maxBatch: 1,
      maxInFlight: 1,
      maxDelayMs: 0,
      statsIntervalMs: 10,
      onSkipped: (f) => skipped.push(f.index),
    });
    feeds.events.subscribe((e) => {
      events.push(e);
      if (e.type === 'stats' && e.frames === 40 && !decodedAll) {
        decodedAll = true;
        for (const b of held.splice(0)) b.release();
      }
    });
    await new Promise<void>((resolve, reject) =>
      feeds.batches.subscribe({
        next: (b) => {
          delivered.push(...b.frames.map((f) => f.index));
          if (decodedAll) b.release();
          else held.push(b);
        },
        error: reject,
        complete: resolve,
      }),
    );
    const ended = events.find((e) => e.type === 'ended') as Extract<SourceEvent, { type: 'ended' }>;
    expect(ended.frames).toBe(40);
    expect(delivered.every((i) => i % 5 === 0)).toBe(true);
    // 8 frames wanted (0, 5, … 35): the consumer's hold costs some of them, and nothing else.
    expect(delivered.length + ended.dropped).toBe(8);
    expect(skipped).toHaveLength(32);
    expect(delivered.length).toBeGreaterThanOrEqual(3);
  });
});
