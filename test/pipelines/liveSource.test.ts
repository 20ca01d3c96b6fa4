import { chmodSync, writeFileSync } from 'node:fs';
import type { Subscription } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { type LiveOptions, openSource } from '../../pipelines/liveSource.js';
import { createMetrics } from '../../src/server/metrics.js';
import { PipelineStats } from '../../src/server/stats.js';
import type { SourceEvent } from '../../src/video/events.js';
import type { FfmpegHandle } from '../../src/video/ffmpeg.js';
import type { VideoSource } from '../../src/video/source.js';
import { ffmpegChildren, makeClip, TempDir, waitFor } from '../video/media.js';
import { startMjpegServer } from '../video/mjpegServer.js';

const tmp = new TempDir();
afterAll(() => tmp.dispose());

const camera = (opts: { startAfterMs?: number; stopAfterFrames?: number }) => startMjpegServer(tmp.dir, opts);

/** Runs a live source with short watchdog limits, recording events and the most ffmpegs alive at once. */
function run(url: string, firstFrameTimeoutMs: number, noFrameTimeoutMs: number) {
  const events: SourceEvent[] = [];
  let frames = 0;
  let maxChildren = 0;
  const poll = setInterval(() => {
    maxChildren = Math.max(maxChildren, ffmpegChildren().length);
  }, 100);
  const sub: Subscription = openSource(
    { id: 'cam', url },
    {
      size: 16,
      firstFrameTimeoutMs,
      noFrameTimeoutMs,
      backoff: { initialMs: 100, maxMs: 200 },
      statsIntervalMs: 300,
      onEvent: (e) => events.push(e),
    },
  ).subscribe((f) => {
    frames++;
    f.release?.();
  });
  return {
    events,
    frames: () => frames,
    maxChildren: () => maxChildren,
    stop() {
      clearInterval(poll);
      sub.unsubscribe();
    },
  };
}

// Bounds of waitFor are generous (it returns as soon as the event is there): a loaded 2-core
// machine (load 18) took more than 15 s for 20 frames of a camera at 10 fps.
describe('stall watchdog', { timeout: 120_000 }, () => {
  it('a camera that sends nothing: the first-frame timeout kills ffmpeg and restarts it', async () => {
    const cam = await camera({ startAfterMs: Number.POSITIVE_INFINITY });
    // Limits well above ffmpeg's start-up even on a loaded 2-core runner (at 800 ms, a stall sometimes came
    // before ffmpeg had started, so with no pid to kill): the product's defaults are 15 s and 10 s.
    const r = run(cam.url, 2000, 2500);
    try {
      expect(await waitFor(() => r.events.filter((e) => e.type === 'stalled').length >= 2, 40_000)).toBe(
        true,
      );
      const stall = r.events.find((e) => e.type === 'stalled') as Extract<SourceEvent, { type: 'stalled' }>;
      expect(stall.kind).toBe('first-frame');
      expect(stall.waitedMs).toBeGreaterThanOrEqual(2000);
      expect(typeof stall.pid).toBe('number');
      // the stalled ffmpeg was killed and a new one connected
      expect(await waitFor(() => cam.connections() >= 2, 15_000)).toBe(true);
      expect(r.events.some((e) => e.type === 'reconnecting')).toBe(true);
      expect(r.frames()).toBe(0);
      // never more than the one ffmpeg of this source alive at a time
      expect(r.maxChildren()).toBeLessThanOrEqual(1);
    } finally {
      r.stop();
      await cam.close();
    }
    expect(await waitFor(() => ffmpegChildren().length === 0, 15_000)).toBe(true);
  });

  it('a camera that stops after 20 frames: the no-frame timeout fires, then it recovers', async () => {
    // Counted in frames, not ms: under load ffmpeg's start-up ate most of a 2 s window (3 frames).
    const cam = await camera({ stopAfterFrames: 20 });
    // A gap limit well above a busy runner's hiccups (at 1 s, a loaded machine stalled after 2 frames).
    const r = run(cam.url, 8000, 2500);
    try {
      expect(await waitFor(() => r.events.some((e) => e.type === 'stalled'), 30_000)).toBe(true);
      const stall = r.events.find((e) => e.type === 'stalled') as Extract<SourceEvent, { type: 'stalled' }>;
      expect(stall.kind).toBe('no-frame');
      expect(r.frames()).toBeGreaterThan(5);
      // the reconnection gets 20 frames again: the source is reported back
      expect(await waitFor(() => r.events.some((e) => e.type === 'recovered'), 20_000)).toBe(true);
      const types = r.events.map((e) => e.type);
      expect(types.indexOf('stalled')).toBeLessThan(types.indexOf('reconnecting'));
      expect(types.indexOf('reconnecting')).toBeLessThan(types.indexOf('recovered'));
      expect(r.maxChildren()).toBeLessThanOrEqual(1);
      // Frame totals survive the stall: the torn-down connection's last report comes after the
      // retry is scheduled and must not be counted twice.
      // Stopping reports the live connection's final totals ('ended', unsubscribed).
      r.stop();
      const stats = new PipelineStats(createMetrics({ sent: {}, dropped: 0 }));
      for (const e of r.events) stats.sourceEvent(e);
      const framesIn = stats.snapshot().streams.cam.framesIn as number;
      expect(framesIn).toBeGreaterThanOrEqual(r.frames() - 2);
      expect(framesIn).toBeLessThanOrEqual(r.frames() + 2);
    } finally {
      r.stop();
      await cam.close();
    }
    expect(await waitFor(() => ffmpegChildren().length === 0, 15_000)).toBe(true);
  });

  it('a camera whose first frame comes after 5 s, within an 8 s first-frame timeout: no false stall', async () => {
    const cam = await camera({ startAfterMs: 5000 });
    const r = run(cam.url, 8000, 3000);
    try {
      expect(await waitFor(() => r.frames() >= 20, 30_000)).toBe(true);
      expect(r.events.filter((e) => e.type === 'stalled')).toEqual([]);
      expect(r.events.filter((e) => e.type === 'reconnecting')).toEqual([]);
      expect(cam.connections()).toBe(1);
    } finally {
      r.stop();
      await cam.close();
    }
    expect(await waitFor(() => ffmpegChildren().length === 0, 15_000)).toBe(true);
  });
});

describe('NVDEC probe before the first ffmpeg', { timeout: 120_000 }, () => {
  // An ffmpeg whose NVDEC probe takes 5 s (a cold CUDA kernel cache takes ~10 s), then says no:
  // the feed decodes on the CPU with the system's ffmpeg.
  const slowProbe = (): FfmpegHandle => {
    const bin = tmp.file('ffmpeg-slow-nvdec-probe');
    writeFileSync(
      bin,
      `#!/bin/sh
if [ "$2" = "-hwaccels" ]; then sleep 5; printf 'Hardware acceleration methods:\\ncuda\\n\\n'; exit 0; fi
for a in "$@"; do case "$a" in data:video/h264*) exit 1;; esac; done
exec ffmpeg "$@"
`,
    );
    chmodSync(bin, 0o755);
    return { path: bin, from: 'FFMPEG_PATH', version: '5.1.9', major: 5, minor: 1 };
  };

  it('is not counted by the first-frame watchdog: no stall, one ffmpeg start (issue #21)', async () => {
    const clip = makeClip(tmp.file('probe-clip.mp4'), { frames: 50 });
    const events: SourceEvent[] = [];
    let frames = 0;
    const sub = openSource(
      { id: 'cam', path: clip, realtime: true, loop: true },
      {
        size: 16,
        hwaccel: 'auto',
        ffmpeg: slowProbe(),
        firstFrameTimeoutMs: 3000,
        backoff: { initialMs: 100, maxMs: 200 },
        onEvent: (e) => events.push(e),
      },
    ).subscribe((f) => {
      frames++;
      f.release?.();
    });
    try {
      expect(await waitFor(() => frames >= 3, 60_000)).toBe(true);
      expect(events.filter((e) => e.type === 'stalled')).toEqual([]);
      expect(events.filter((e) => e.type === 'started')).toHaveLength(1);
    } finally {
      sub.unsubscribe();
    }
    expect(await waitFor(() => ffmpegChildren().length === 0, 15_000)).toBe(true);
  });
});

/** A sampled source, recording its events and the indices of the frames it delivers. */
function runSampled(source: VideoSource, options: Omit<LiveOptions, 'size'>) {
  const events: SourceEvent[] = [];
  const indices: number[] = [];
  const sub = openSource(source, {
    size: 16,
    backoff: { initialMs: 100, maxMs: 200 },
    onEvent: (e) => events.push(e),
    ...options,
  }).subscribe((f) => {
    indices.push(f.index);
    f.release?.();
  });
  return { events, indices, stop: () => sub.unsubscribe() };
}

describe('sampling in ffmpeg', { timeout: 120_000 }, () => {
  it('a feed sampled every 5 s is alive in between: no stall at a 3 s no-frame limit, indices count every frame', async () => {
    const clip = makeClip(tmp.file('sparse-clip.mp4'), { frames: 90, rate: 30, size: '64x48' });
    const { events, indices, stop } = runSampled(
      { id: 'cam', path: clip, realtime: true, loop: true },
      { sample: { fps: 0.2 }, firstFrameTimeoutMs: 30_000, noFrameTimeoutMs: 3000 },
    );
    try {
      expect(await waitFor(() => indices.length >= 2, 60_000)).toBe(true);
      expect(events.filter((e) => e.type === 'stalled')).toEqual([]);
      expect(events.filter((e) => e.type === 'started')).toHaveLength(1);
      // The frames left out in ffmpeg still count: the second kept is the first of the 30 fps clip
      // within the sampler's 1% slack (50 ms) of 5 s, frame 149 at 4.967 s.
      expect(indices.slice(0, 2)).toEqual([0, 149]);
    } finally {
      stop();
    }
    expect(await waitFor(() => ffmpegChildren().length === 0, 15_000)).toBe(true);
  });

  it('the frames left out before a stall still count: the next connection goes on from them', async () => {
    // 20 frames a connection, then silence: each connection ends in a no-frame stall.
    const cam = await camera({ stopAfterFrames: 20 });
    const { events, indices, stop } = runSampled(
      { id: 'cam', url: cam.url },
      { sample: { every: 1000 }, firstFrameTimeoutMs: 8000, noFrameTimeoutMs: 2500 },
    );
    try {
      expect(await waitFor(() => indices.length >= 2, 60_000)).toBe(true);
      expect(events.some((e) => e.type === 'stalled')).toBe(true);
      // The first connection decoded frames 0-19 and kept frame 0; the second's first is frame 20.
      expect(indices.slice(0, 2)).toEqual([0, 20]);
    } finally {
      stop();
      await cam.close();
    }
    expect(await waitFor(() => ffmpegChildren().length === 0, 15_000)).toBe(true);
  });
});
