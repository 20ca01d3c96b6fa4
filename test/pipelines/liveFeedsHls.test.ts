import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveFeeds } from '../../pipelines/liveFeeds.js';
import type { SourceEvent } from '../../src/video/events.js';
import type { FrameInfo } from '../../src/video/frame.js';
import { TempDir, waitFor } from '../video/media.js';

// Issue #25 item 2 with a real HLS writer: ffmpeg writes segments of uneven length (0.4 to 2.6 s,
// cut at forced keyframes) in real time, a Node server on loopback serves them, and a live feed
// sampled at 2 fps reads the playlist, so frames arrive a segment at a time. With this consumer
// (30 ms a batch) the old order (drop, then sample) passed too: the test guards the HLS path end
// to end; liveFeedsSampling.test.ts is the one that shows the old order losing wanted frames.
const tmp = new TempDir();
let server: http.Server;
let writer: ChildProcess;
let writerDone: Promise<unknown>;
let playlist = '';

beforeAll(async () => {
  writer = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=64x48:rate=25',
      '-t',
      '12',
    ]
      .concat(['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '250'])
      .concat(['-force_key_frames', '0,0.4,2.4,2.9,5.5,6.0,8.0,9.1,10.2'])
      .concat(['-f', 'hls', '-hls_time', '0.3', '-hls_list_size', '0', tmp.file('index.m3u8')]),
    { stdio: 'ignore' },
  );
  writerDone = new Promise((resolve) => writer.once('exit', resolve));
  server = http.createServer((req, res) => {
    const name = path.basename(req.url ?? '');
    const stream = createReadStream(tmp.file(name));
    stream.once('error', () => res.writeHead(404).end());
    stream.once('open', () => {
      res.writeHead(200, {
        'Content-Type': name.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t',
      });
      stream.pipe(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  playlist = `http://127.0.0.1:${(server.address() as { port: number }).port}/index.m3u8`;
});

afterAll(async () => {
  writer.kill('SIGKILL');
  await new Promise((resolve) => server.close(resolve));
  tmp.dispose();
});

describe('an HLS feed sampled at 2 fps', () => {
  it('classifies at least 99% of its sampled frames, with no gap longer than a segment', async () => {
    // The reader starts once the writer has a playlist with a few segments.
    expect(await waitFor(() => existsSync(tmp.file('index2.ts')), 30_000)).toBe(true);
    const events: SourceEvent[] = [];
    const frames: FrameInfo[] = [];
    const feeds = liveFeeds([{ id: 'hls', url: playlist, sample: { fps: 2 } }], {
      size: 16,
      maxBatch: 4,
      maxInFlight: 2,
      maxDelayMs: 100,
      statsIntervalMs: 200,
      backoff: { initialMs: 100, maxMs: 200, maxRetries: 0 },
    });
    const evSub = feeds.events.subscribe((e) => events.push(e));
    const sub = feeds.batches.subscribe((b) => {
      frames.push(...b.frames);
      // a stand-in engine: 30 ms a batch
      setTimeout(() => b.release(), 30);
    });
    try {
      await writerDone;
      // The writer has finished; the reader catches up with the last segment, then the feed ends.
      expect(await waitFor(() => events.some((e) => e.type === 'ended'), 30_000)).toBe(true);
    } finally {
      sub.unsubscribe();
      evSub.unsubscribe();
    }
    const stats = events.filter((e) => e.type === 'stats' || e.type === 'ended') as Extract<
      SourceEvent,
      { type: 'ended' }
    >[];
    const dropped = Math.max(0, ...stats.map((e) => e.dropped));
    expect(frames.length).toBeGreaterThanOrEqual(10);
    expect(frames.length / (frames.length + dropped)).toBeGreaterThanOrEqual(0.99);
    const pts = frames.map((f) => f.ptsMs);
    const gaps = pts.slice(1).map((p, i) => p - pts[i]);
    // longest segment 2.6 s, plus one sampling period
    expect(Math.max(...gaps)).toBeLessThanOrEqual(3100);
  }, 120_000);
});
