import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/server/metrics.js';
import type { ServerEvent } from '../../src/server/protocol.js';
import { PipelineStats } from '../../src/server/stats.js';
import { SlidingWindow } from '../../src/server/window.js';

function setup() {
  let now = 1_000_000;
  const events: ServerEvent[] = [];
  const metrics = createMetrics({ sent: {}, dropped: 0 });
  const stats = new PipelineStats(metrics, {
    windowMs: 5000,
    now: () => now,
    onEvent: (e) => events.push(e),
  });
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number | undefined> => {
    const m = (await metrics.registry.getSingleMetric(name)!.get()).values;
    return m.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
  };
  return { stats, events, metric, advance: (ms: number) => (now += ms), at: () => now };
}

describe('SlidingWindow', () => {
  it('counts only the last window and averages values', () => {
    const w = new SlidingWindow(1000, 10);
    for (let t = 0; t < 3000; t += 10) w.add(t, 1, t % 20 === 0 ? 10 : 30); // 100 events/s, values 10/30
    expect(w.rate(2999)).toBeCloseTo(100, 0);
    expect(w.mean(2999)).toBeCloseTo(20, 5);
    expect(w.rate(10_000)).toBe(0);
    expect(w.mean(10_000)).toBeUndefined();
  });
});

describe('PipelineStats', () => {
  it('turns arrivals, classifications and drops into fps, latency and metrics', async () => {
    const { stats, metric, advance, at } = setup();
    for (let i = 0; i < 100; i++) {
      // 25 fps in for 4 s, every 5th frame classified with 40 ms latency
      stats.frameIn('cam1');
      if (i % 5 === 0) stats.classified({ streamId: 'cam1', latencyMs: 40 });
      advance(40);
    }
    stats.dropped('cam1', 'engine_behind', 3);
    stats.setState('cam1', 'live');
    const snap = stats.snapshot();
    expect(snap.streams.cam1).toEqual({
      state: 'live',
      fpsIn: 25,
      fpsClassified: 5,
      latencyMs: 40,
      dropped: 3,
      framesIn: 100,
      classified: 20,
    });
    expect(await metric('vitstream_frames_in_total', { stream: 'cam1' })).toBe(100);
    expect(await metric('vitstream_frames_classified_total', { stream: 'cam1' })).toBe(20);
    expect(await metric('vitstream_frames_dropped_total', { stream: 'cam1', reason: 'engine_behind' })).toBe(
      3,
    );
    expect(await metric('vitstream_stream_up', { stream: 'cam1' })).toBe(1);
    expect(at()).toBe(1_004_000);
  });

  it('computes engine utilisation from busy time', async () => {
    const { stats, metric, advance } = setup();
    for (let i = 0; i < 50; i++) {
      stats.batch({ size: 8, latencyMs: 30 }); // 30 ms busy every 100 ms
      advance(100);
    }
    const { engine } = stats.snapshot();
    // A window of discrete batches: within a few percent of the true 0.3.
    expect(engine!.utilization).toBeCloseTo(0.3, 1);
    expect(engine).toMatchObject({ batchLatencyMs: 30, batchSize: 8 });
    expect(await metric('vitstream_engine_utilization_ratio')).toBeCloseTo(engine!.utilization!, 3);
  });

  it('follows source events: totals become increments across restarts, states and events', async () => {
    const { stats, events, metric, advance, at } = setup();
    const id = 'rtsp-cam';
    stats.sourceEvent({ type: 'started', streamId: id, atMs: at(), pid: 1, attempt: 0 });
    advance(1000);
    stats.sourceEvent({
      type: 'stats',
      streamId: id,
      atMs: at(),
      frames: 25,
      emitted: 25,
      dropped: 0,
      fps: 25,
    });
    advance(1000);
    stats.sourceEvent({
      type: 'stats',
      streamId: id,
      atMs: at(),
      frames: 50,
      emitted: 48,
      dropped: 2,
      fps: 25,
    });
    stats.sourceEvent({ type: 'error', streamId: id, atMs: at(), error: new Error('connection reset') });
    stats.sourceEvent({ type: 'ended', streamId: id, atMs: at(), reason: 'error', frames: 60, dropped: 2 });
    // Ended by an error: the state keeps saying so (a file that failed stays 'error', not 'ended').
    expect(stats.snapshot().streams[id]!.state).toBe('error');
    stats.sourceEvent({ type: 'reconnecting', streamId: id, atMs: at(), attempt: 1, delayMs: 2000 });
    expect(stats.snapshot().streams[id]!.state).toBe('reconnecting');
    expect(await metric('vitstream_stream_up', { stream: id })).toBe(0);
    advance(2000);
    stats.sourceEvent({ type: 'started', streamId: id, atMs: at(), pid: 2, attempt: 1 });
    // A new ffmpeg is not yet a source that works: a camera refusing every connection stays down.
    expect(stats.snapshot().streams[id]!.state).toBe('connecting');
    expect(await metric('vitstream_stream_up', { stream: id })).toBe(0);
    stats.sourceEvent({
      type: 'stats',
      streamId: id,
      atMs: at(),
      frames: 10,
      emitted: 10,
      dropped: 1,
      fps: 25,
    });

    expect(await metric('vitstream_frames_in_total', { stream: id })).toBe(70);
    expect(await metric('vitstream_frames_dropped_total', { stream: id, reason: 'source_behind' })).toBe(3);
    expect(await metric('vitstream_stream_reconnects_total', { stream: id })).toBe(1);
    expect(await metric('vitstream_stream_up', { stream: id })).toBe(1);
    expect(stats.snapshot().streams[id]).toMatchObject({ state: 'live', framesIn: 70, dropped: 3 });
    expect(events.map((e) => [e.kind, e.level])).toEqual([
      ['source-error', 'error'],
      ['ended', 'error'],
      ['reconnecting', 'warn'],
    ]);
    expect(events[0]!.message).toBe('connection reset');
  });

  it('words a stall restart and a stop as what happened, never "unsubscribed"', () => {
    const { stats, events, at } = setup();
    const id = 'cam';
    stats.sourceEvent({ type: 'started', streamId: id, atMs: at(), pid: 1, attempt: 0 });
    stats.sourceEvent({
      type: 'stalled',
      streamId: id,
      atMs: at(),
      kind: 'no-frame',
      waitedMs: 10_000,
      pid: 1,
    });
    stats.sourceEvent({ type: 'reconnecting', streamId: id, atMs: at(), attempt: 1, delayMs: 1000 });
    // The connection the watchdog killed reports its end after the restart is scheduled.
    stats.sourceEvent({
      type: 'ended',
      streamId: id,
      atMs: at(),
      reason: 'unsubscribed',
      frames: 40,
      dropped: 0,
    });
    expect(stats.snapshot().streams[id]!.state).toBe('reconnecting');
    expect(events.map((e) => e.kind)).toEqual(['stalled', 'reconnecting']);
    expect(events[0]!.message).toBe('no frame for 10.0 s: ffmpeg killed, restarting');
    // Stopped without a stall (removed, or the server shutting down).
    stats.sourceEvent({ type: 'started', streamId: id, atMs: at(), pid: 2, attempt: 1 });
    stats.sourceEvent({
      type: 'ended',
      streamId: id,
      atMs: at(),
      reason: 'unsubscribed',
      frames: 5,
      dropped: 0,
    });
    stats.sourceEvent({
      type: 'ended',
      streamId: 'file',
      atMs: at(),
      reason: 'complete',
      frames: 89,
      dropped: 0,
    });
    expect(events.slice(2).map((e) => `${e.kind}: ${e.message}`)).toEqual([
      'ended: stopped after 5 frames',
      'ended: end of input after 89 frames',
    ]);
    for (const e of events) expect(e.message).not.toMatch(/unsubscribed/);
  });
});
