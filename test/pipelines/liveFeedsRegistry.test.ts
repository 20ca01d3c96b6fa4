import { afterAll, describe, expect, it } from 'vitest';
import { liveFeeds } from '../../pipelines/liveFeeds.js';
import { FeedRegistryError } from '../../src/errors.js';
import type { FrameInfo } from '../../src/video/frame.js';
import { ffmpegChildren, makeClip, TempDir, waitFor } from '../video/media.js';

const tmp = new TempDir();
afterAll(() => tmp.dispose());

describe('liveFeeds as a registry', () => {
  it('refuses a taken id and a closed registry with a typed error naming why', () => {
    const options = { size: 16, maxBatch: 4, statsIntervalMs: 0 };
    const feeds = liveFeeds([{ id: 'a', path: 'a.mp4' }], options);
    const taken = (() => {
      try {
        feeds.add({ id: 'a', path: 'b.mp4' });
      } catch (e) {
        return e;
      }
    })();
    expect(taken).toBeInstanceOf(FeedRegistryError);
    expect(taken).toMatchObject({
      reason: 'duplicate-id',
      input: 'a',
      message: expect.stringMatching(/already exists/),
    });
    const closed = liveFeeds([], options);
    expect(() => closed.add('a.mp4')).toThrow(FeedRegistryError);
    expect(() => closed.add('a.mp4')).toThrow(expect.objectContaining({ reason: 'closed' }));
  });

  it('adds and removes feeds while batches flow; a removed feed stops its ffmpeg, the others go on', async () => {
    const clip = makeClip(tmp.file('c.mp4'), { frames: 25, rate: 25 });
    const feeds = liveFeeds([{ id: 'x', path: clip, realtime: true, loop: true }], {
      size: 16,
      maxBatch: 4,
      maxDelayMs: 20,
      keepAlive: true,
      statsIntervalMs: 0,
    });
    const frames: FrameInfo[] = [];
    const types: string[] = [];
    const evSub = feeds.events.subscribe((e) => types.push(`${e.type}:${e.streamId}`));
    let completed = false;
    const sub = feeds.batches.subscribe({
      next: (b) => {
        frames.push(...b.frames);
        b.release();
      },
      complete: () => {
        completed = true;
      },
    });
    try {
      const count = (id: string) => frames.filter((f) => f.streamId === id).length;
      expect(await waitFor(() => count('x') >= 5, 10_000)).toBe(true);
      expect(feeds.add({ id: 'y', path: clip, realtime: true, loop: true }).id).toBe('y');
      expect(() => feeds.add({ id: 'y', path: clip })).toThrow(/already exists/);
      expect(await waitFor(() => count('y') >= 5 && ffmpegChildren().length === 2, 10_000)).toBe(true);
      expect(feeds.list().map((s) => s.id)).toEqual(['x', 'y']);

      expect(feeds.remove('y')).toBe(true);
      expect(feeds.remove('y')).toBe(false);
      expect(await waitFor(() => ffmpegChildren().length === 1, 5000)).toBe(true);
      const yAfter = count('y');
      const xAfter = count('x');
      expect(await waitFor(() => count('x') >= xAfter + 10, 10_000)).toBe(true);
      expect(count('y')).toBe(yAfter);
      expect(types).toContain('added:y');
      expect(types.indexOf('ended:y')).toBeLessThan(types.indexOf('removed:y'));

      // with keepAlive, an empty registry waits for the next feed instead of completing
      feeds.remove('x');
      expect(await waitFor(() => ffmpegChildren().length === 0, 5000)).toBe(true);
      expect(completed).toBe(false);
      feeds.add({ id: 'z', path: clip, realtime: true, loop: true });
      expect(await waitFor(() => count('z') >= 3, 10_000)).toBe(true);
    } finally {
      sub.unsubscribe();
      evSub.unsubscribe();
    }
    expect(await waitFor(() => ffmpegChildren().length === 0, 5000)).toBe(true);
  });

  it('without keepAlive, completes once every feed has ended', async () => {
    const clip = makeClip(tmp.file('d.mp4'), { frames: 10, rate: 25 });
    const feeds = liveFeeds([clip, { id: 'second', path: clip }], {
      size: 16,
      maxBatch: 4,
      maxDelayMs: 20,
      statsIntervalMs: 0,
    });
    const frames: FrameInfo[] = [];
    await new Promise<void>((resolve, reject) =>
      feeds.batches.subscribe({
        next: (b) => {
          frames.push(...b.frames);
          b.release();
        },
        error: reject,
        complete: resolve,
      }),
    );
    expect(frames.filter((f) => f.streamId === 'second').length).toBe(10);
    expect(frames.filter((f) => f.streamId === clip).length).toBe(10);
    expect(feeds.list()).toEqual([]);
    expect(() => feeds.add(clip)).toThrow(/ended/);
  });
});
