import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type FeedEvent, liveFeeds } from '../../pipelines/liveFeeds.js';
import type { SourceEvent } from '../../src/video/events.js';
import { resolveFfmpeg } from '../../src/video/ffmpeg.js';
import type { FrameInfo } from '../../src/video/frame.js';
import { ffmpeg, TempDir, waitFor } from '../video/media.js';

// Issue #25 item 2 with a real HLS writer: ffmpeg writes segments (cut at forced keyframes) in real
// time, a Node server on loopback serves them, and a live feed sampled at 2 fps reads the playlist,
// so frames arrive a segment at a time. The consumer is a slow stand-in engine.

interface Served {
  /** http://127.0.0.1:PORT/ : the folder's files by name. */
  base: string;
  dir: TempDir;
  server: http.Server;
}
interface Writer extends Served {
  playlist: string;
  done: Promise<unknown>;
  proc: ChildProcess;
}
const served: Served[] = [];
const procs: ChildProcess[] = [];

/** A Node server on loopback for a new temp folder, as a web server would serve an HLS writer's output. */
async function serveFolder(): Promise<Served> {
  const dir = new TempDir();
  const server = http.createServer((req, res) => {
    const name = path.basename(req.url ?? '');
    const stream = createReadStream(dir.file(name));
    stream.once('error', () => res.writeHead(404).end());
    stream.once('open', () => {
      res.writeHead(200, {
        'Content-Type': name.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t',
      });
      stream.pipe(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const s = { base: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, dir, server };
  served.push(s);
  return s;
}

/** An ffmpeg HLS writer in real time (-re), cutting segments at the given keyframe times. */
async function startWriter(seconds: number, keyframes: string, hlsTime: string): Promise<Writer> {
  const s = await serveFolder();
  const proc = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=25']
      .concat(['-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '1000'])
      .concat(['-force_key_frames', keyframes])
      .concat(['-f', 'hls', '-hls_time', hlsTime, '-hls_list_size', '0', s.dir.file('index.m3u8')]),
    { stdio: 'ignore' },
  );
  procs.push(proc);
  const done = new Promise((resolve) => proc.once('exit', resolve));
  return { ...s, playlist: `${s.base}index.m3u8`, done, proc };
}

afterEach(async () => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
  for (const s of served.splice(0)) {
    await new Promise((resolve) => s.server.close(resolve));
    s.dir.dispose();
  }
});

/** Events of a restart, which a feed that keeps up and then ends must not show. */
const restartKinds = new Set(['recovered', 'reconnecting', 'stalled']);

describe('an HLS feed sampled at 2 fps', () => {
  it('with uneven segments (0.4-7.6 s) and a busy engine: >= 99% of sampled frames classified, no gap over a segment, one "ended"', async () => {
    // Segments of 0.4, 7.6, 0.8, 2.0, 0.4, 2.8, 4.0 and 2.0 s: the playlist's target duration is 8 s.
    const w = await startWriter(20, '0,0.4,8.0,8.8,10.8,11.2,14.0,18.0', '0.3');
    // The reader starts once the first segment is listed: then waits 7.6 s for the second.
    expect(await waitFor(() => existsSync(w.dir.file('index1.ts')), 30_000)).toBe(true);
    const events: FeedEvent[] = [];
    const frames: FrameInfo[] = [];
    const feeds = liveFeeds([{ id: 'hls', url: w.playlist, sample: { fps: 2 } }], {
      size: 16,
      maxBatch: 4,
      maxInFlight: 2,
      maxDelayMs: 100,
      statsIntervalMs: 200,
      // The operator's 5 s is shorter than the playlist's 8 s segments: the playlist wins (3 × 8 s).
      noFrameTimeoutMs: 5000,
      backoff: { initialMs: 100, maxMs: 200 },
    });
    const evSub = feeds.events.subscribe((e) => events.push(e));
    let completed = false;
    const sub = feeds.batches.subscribe({
      next: (b) => {
        frames.push(...b.frames);
        // A stand-in engine, busy 25-60% at 2 fps: 120 ms a batch plus 130 ms a frame.
        setTimeout(() => b.release(), 120 + 130 * b.frames.length);
      },
      complete: () => {
        completed = true;
      },
    });
    try {
      await w.done;
      // The writer has finished (#EXT-X-ENDLIST): the reader reads the last segment and the feed ends.
      expect(await waitFor(() => completed, 60_000)).toBe(true);
    } finally {
      sub.unsubscribe();
      evSub.unsubscribe();
    }
    const counts = events.filter((e) => e.type === 'stats' || e.type === 'ended') as Extract<
      SourceEvent,
      { type: 'ended' }
    >[];
    const dropped = Math.max(0, ...counts.map((e) => e.dropped));
    expect(frames.length).toBeGreaterThanOrEqual(30);
    expect(frames.length / (frames.length + dropped)).toBeGreaterThanOrEqual(0.99);
    const pts = frames.map((f) => f.ptsMs);
    const gaps = pts.slice(1).map((p, i) => p - pts[i]!);
    // the longest segment (7.6 s) plus one sampling period
    expect(Math.max(...gaps)).toBeLessThanOrEqual(8100);
    expect(events.filter((e) => restartKinds.has(e.type)).map((e) => e.type)).toEqual([]);
    const ends = events.filter((e) => e.type === 'ended' && e.reason !== 'unsubscribed');
    expect(ends).toHaveLength(1);
  }, 150_000);

  it('says "ended" once when the writer stops without finishing the playlist (it stops growing)', async () => {
    const w = await startWriter(60, 'expr:gte(t,n_forced*1)', '1');
    expect(await waitFor(() => existsSync(w.dir.file('index2.ts')), 30_000)).toBe(true);
    const events: FeedEvent[] = [];
    let frames = 0;
    const feeds = liveFeeds([{ id: 'hls', url: w.playlist, sample: { fps: 2 } }], {
      size: 16,
      maxBatch: 4,
      statsIntervalMs: 0,
      backoff: { initialMs: 100, maxMs: 200 },
    });
    const evSub = feeds.events.subscribe((e) => events.push(e));
    let completed = false;
    const sub = feeds.batches.subscribe({
      next: (b) => {
        frames += b.frames.length;
        b.release();
      },
      complete: () => {
        completed = true;
      },
    });
    try {
      expect(await waitFor(() => frames >= 4, 30_000)).toBe(true);
      // The writer dies: no #EXT-X-ENDLIST, the playlist just stops growing.
      w.proc.kill('SIGKILL');
      await w.done;
      expect(await waitFor(() => completed, 60_000)).toBe(true);
    } finally {
      sub.unsubscribe();
      evSub.unsubscribe();
    }
    expect(events.filter((e) => e.type === 'recovered')).toEqual([]);
    expect(events.filter((e) => e.type === 'ended' && e.reason !== 'unsubscribed')).toHaveLength(1);
  }, 120_000);

  it('says "ended" once when the stall watchdog finds the writer gone (an ffmpeg that keeps reloading)', async () => {
    // A live playlist (no #EXT-X-ENDLIST) of two 2 s segments that never grows. The ffmpeg handle
    // claims 4.x, so no m3u8_hold_counters: ffmpeg reloads forever and the no-frame watchdog fires.
    const w = await serveFolder();
    ffmpeg(
      ['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=25', '-t', '4', '-c:v', 'libx264', '-g', '50'].concat([
        '-f',
        'hls',
        '-hls_time',
        '2',
        '-hls_list_size',
        '0',
        w.dir.file('vod.m3u8'),
      ]),
    );
    writeFileSync(
      w.dir.file('stuck.m3u8'),
      readFileSync(w.dir.file('vod.m3u8'), 'utf8').replace('#EXT-X-ENDLIST', ''),
    );
    const old = { ...(await resolveFfmpeg()), major: 4 };
    const events: FeedEvent[] = [];
    const feeds = liveFeeds([{ id: 'stuck', url: `${w.base}stuck.m3u8` }], {
      size: 16,
      maxBatch: 4,
      statsIntervalMs: 0,
      ffmpeg: old,
      noFrameTimeoutMs: 1000,
      backoff: { initialMs: 100, maxMs: 200 },
    });
    const evSub = feeds.events.subscribe((e) => events.push(e));
    let completed = false;
    const sub = feeds.batches.subscribe({ next: (b) => b.release(), complete: () => (completed = true) });
    try {
      expect(await waitFor(() => completed, 60_000)).toBe(true);
    } finally {
      sub.unsubscribe();
      evSub.unsubscribe();
    }
    // The limit was 3 × 2 s, not the configured 1 s; then the playlist, unchanged, ends the feed.
    const stalls = events.filter((e) => e.type === 'stalled');
    expect(stalls).toHaveLength(1);
    expect((stalls[0] as Extract<SourceEvent, { type: 'stalled' }>).waitedMs).toBeGreaterThanOrEqual(6000);
    expect(events.filter((e) => e.type === 'recovered' || e.type === 'reconnecting')).toEqual([]);
    expect(events.filter((e) => e.type === 'ended' && e.reason !== 'unsubscribed')).toHaveLength(1);
  }, 90_000);
});
