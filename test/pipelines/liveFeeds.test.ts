import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { liveFeeds } from '../../pipelines/liveFeeds.js';
import type { SourceEvent } from '../../src/video/events.js';
import type { FrameInfo } from '../../src/video/frame.js';
import { ffmpegChildren, TempDir, waitFor } from '../video/media.js';
import { startMjpegServer } from '../video/mjpegServer.js';

const tmp = new TempDir();
afterAll(() => tmp.dispose());

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('liveFeeds', () => {
  it('reconnects a dropped MJPEG feed with backoff while a dead feed fails on its own', async () => {
    const cam = await startMjpegServer(tmp.dir, { fps: 20, dropAfter: 8, drops: 1 });
    const dead = `http://127.0.0.1:${await closedPort()}/nothing.mjpg`;
    const feeds = liveFeeds(
      [
        { id: 'cam', url: cam.url },
        { id: 'dead', url: dead },
      ],
      {
        size: 16,
        maxBatch: 4,
        maxDelayMs: 30,
        backoff: { initialMs: 100, maxMs: 400 },
        statsIntervalMs: 200,
      },
    );
    const events: SourceEvent[] = [];
    const frames: FrameInfo[] = [];
    const evSub = feeds.events.subscribe((e) => events.push(e));
    const sub = feeds.batches.subscribe((b) => {
      frames.push(...b.frames);
      b.release();
    });
    try {
      const ok = await waitFor(
        () => cam.connections() >= 2 && frames.filter((f) => f.streamId === 'cam').length >= 20,
        20_000,
      );
      expect(ok).toBe(true);
      const camEvents = events.filter((e) => e.streamId === 'cam').map((e) => e.type);
      expect(camEvents[0]).toBe('started');
      expect(camEvents).toContain('reconnecting');
      expect(camEvents.filter((t) => t === 'started').length).toBeGreaterThanOrEqual(2);
      // indices keep counting across the reconnection
      const idx = frames.filter((f) => f.streamId === 'cam').map((f) => f.index);
      expect(idx).toEqual([...idx].sort((a, b) => a - b));
      expect(new Set(idx).size).toBe(idx.length);
      // the dead feed reports a clear error and keeps retrying with growing delays
      const deadErrors = events.filter((e) => e.streamId === 'dead' && e.type === 'error');
      expect(deadErrors.length).toBeGreaterThan(0);
      const err = (deadErrors[0] as { error: Error }).error;
      expect(err.name).toBe('VideoSourceError');
      expect(err.message).toContain(dead);
      expect(err.message).toMatch(/unreachable|refused/i);
      const delays = events.flatMap((e) =>
        e.streamId === 'dead' && e.type === 'reconnecting' ? [e.delayMs] : [],
      );
      expect(delays.slice(0, 3)).toEqual([100, 200, 400].slice(0, Math.min(3, delays.length)));
      expect(events.some((e) => e.type === 'stats' && e.streamId === 'cam')).toBe(true);
    } finally {
      sub.unsubscribe();
      evSub.unsubscribe();
      await cam.close();
    }
    expect(await waitFor(() => ffmpegChildren().length === 0, 5000)).toBe(true);
  });
});
