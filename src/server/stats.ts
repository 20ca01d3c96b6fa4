import type { Prediction } from '../predictions.js';
import type { SourceEvent } from '../video/events.js';
import type { ServerMetrics } from './metrics.js';
import type { EngineStats, ServerEvent, StatsSnapshot, StreamStateName, StreamStats } from './protocol.js';
import { SlidingWindow } from './window.js';

export interface PipelineStatsOptions {
  /** Window for fps, mean latency and utilisation. Default 5000 ms. */
  windowMs?: number;
  /** Clock, epoch ms. Injected by tests. */
  now?: () => number;
  /** Called for source happenings worth telling clients about (errors, reconnections, ends). */
  onEvent?: (event: ServerEvent) => void;
}

interface StreamState {
  /** Undefined until told (setState or a source event): clients then judge by predictions. */
  state: StreamStateName | undefined;
  /** The watchdog killed the current connection, which has not reported its end yet. */
  stalled: boolean;
  framesIn: number;
  classified: number;
  dropped: number;
  /** Last cumulative counts reported by the source, to turn its totals into increments. */
  sourceFrames: number;
  sourceDropped: number;
  inWindow: SlidingWindow;
  outWindow: SlidingWindow;
  /** Label values used for this stream, so that remove() can drop every series it created. */
  dropReasons: Set<string>;
  skipReasons: Set<string>;
  stallKinds: Set<string>;
  stalls: number;
  restarts: number;
}

/**
 * The one place a pipeline reports what happens: it keeps the Prometheus metrics and the
 * per-stream figures behind the `stats` messages in step. Feed it either source events
 * (`sourceEvent`, from decodeFrames' onEvent) or `frameIn` calls for arrivals, not both.
 * `createServer` makes one (`server.stats`) and publishes its snapshot every second; the hub
 * reports each published prediction to it, so `classified` is only for predictions not published.
 */
export class PipelineStats {
  private readonly streams = new Map<string, StreamState>();
  private readonly batchWindow: SlidingWindow;
  private readonly busyWindow: SlidingWindow;
  private readonly windowMs: number;
  private readonly now: () => number;
  private lastBatchSize: number | undefined;

  constructor(
    private readonly metrics: ServerMetrics,
    private readonly options: PipelineStatsOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 5000;
    this.now = options.now ?? Date.now;
    this.batchWindow = new SlidingWindow(this.windowMs);
    this.busyWindow = new SlidingWindow(this.windowMs);
  }

  /** Follows a source's life: arrivals and drops from its periodic stats, state from the rest. */
  sourceEvent(ev: SourceEvent): void {
    const s = this.stream(ev.streamId);
    const stream = ev.streamId;
    switch (ev.type) {
      case 'started':
        // A new ffmpeg counts from zero. Reset here, not at 'reconnecting': a connection torn down
        // by the stall watchdog reports its final totals ('ended') after the retry is scheduled.
        s.sourceFrames = 0;
        s.sourceDropped = 0;
        // ffmpeg was started, nothing more: the stream is live once frames arrive (the periodic stats,
        // or 'recovered' after failures). A camera that refuses every connection never shows as back.
        this.setState(stream, 'connecting');
        break;
      case 'stats':
        this.sourceTotals(stream, ev.frames, ev.dropped, ev.atMs);
        break;
      case 'error':
        this.setState(stream, 'error');
        this.emit({ kind: 'source-error', level: 'error', streamId: stream, message: ev.error.message });
        break;
      case 'stalled':
        this.setState(stream, 'stalled');
        s.stalled = true;
        s.stalls++;
        s.stallKinds.add(ev.kind);
        this.metrics.streamStalls.inc({ stream, kind: ev.kind });
        this.emit({
          kind: 'stalled',
          level: 'warn',
          streamId: stream,
          stall: ev.kind,
          message:
            ev.kind === 'first-frame'
              ? `no first frame within ${(ev.waitedMs / 1000).toFixed(1)} s: ffmpeg killed, restarting`
              : `no frame for ${(ev.waitedMs / 1000).toFixed(1)} s: ffmpeg killed, restarting`,
        });
        break;
      case 'recovered':
        this.setState(stream, 'live');
        this.emit({
          kind: 'recovered',
          level: 'info',
          streamId: stream,
          message: `frames flowing again after ${(ev.downMs / 1000).toFixed(1)} s and ${ev.restarts} restart(s)`,
        });
        break;
      case 'reconnecting':
        this.setState(stream, 'reconnecting');
        s.restarts++;
        this.metrics.streamReconnects.inc({ stream });
        this.metrics.streamRestarts.inc({ stream });
        this.emit({
          kind: 'reconnecting',
          level: 'warn',
          streamId: stream,
          message: `retry ${ev.attempt} in ${(ev.delayMs / 1000).toFixed(1)} s`,
        });
        break;
      case 'ended': {
        // Frames decoded since the last periodic stats would otherwise go uncounted.
        this.sourceTotals(stream, ev.frames, ev.dropped, ev.atMs);
        const stalled = s.stalled;
        s.stalled = false;
        // A connection the watchdog killed ends 'unsubscribed' after its restart is scheduled: the
        // 'stalled' event already said so, and the stream goes on.
        if (ev.reason === 'unsubscribed' && stalled) break;
        this.setState(stream, ev.reason === 'error' ? 'error' : 'ended');
        this.emit({
          kind: 'ended',
          level: ev.reason === 'error' ? 'error' : 'info',
          streamId: stream,
          message: endedMessage(ev.reason, ev.frames),
        });
        break;
      }
    }
  }

  /** Turns a source's running totals (which restart with each ffmpeg run) into increments. */
  private sourceTotals(stream: string, frames: number, dropped: number, atMs: number): void {
    const s = this.stream(stream);
    if (frames < s.sourceFrames) s.sourceFrames = 0;
    if (dropped < s.sourceDropped) s.sourceDropped = 0;
    const newFrames = frames - s.sourceFrames;
    const newDropped = dropped - s.sourceDropped;
    s.sourceFrames = frames;
    s.sourceDropped = dropped;
    if (newFrames > 0) this.frameIn(stream, newFrames, atMs);
    if (newFrames > 0 && s.state === 'connecting') this.setState(stream, 'live');
    if (newDropped > 0) this.dropped(stream, 'source_behind', newDropped);
  }

  frameIn(streamId: string, count = 1, atMs = this.now()): void {
    const s = this.stream(streamId);
    s.framesIn += count;
    s.inWindow.add(atMs, count);
    this.metrics.framesIn.inc({ stream: streamId }, count);
  }

  /** Frames dropped before classification; `reason` e.g. 'engine_behind', 'decode_error'. */
  dropped(streamId: string, reason: string, count = 1): void {
    const s = this.stream(streamId);
    s.dropped += count;
    s.dropReasons.add(reason);
    this.metrics.framesDropped.inc({ stream: streamId, reason }, count);
  }

  /** Frames left out on purpose (e.g. reason 'sampling'): not classified, not a fault. */
  skipped(streamId: string, reason: string, count = 1): void {
    this.stream(streamId).skipReasons.add(reason);
    this.metrics.framesSkipped.inc({ stream: streamId, reason }, count);
  }

  /** Time a frame waited between arrival and the start of its engine batch. */
  queueDelay(streamId: string, ms: number): void {
    this.metrics.queueDelay.observe({ stream: streamId }, Math.max(0, ms) / 1000);
  }

  /** Whether the stream is known (reported on, and not removed). */
  has(streamId: string): boolean {
    return this.streams.has(streamId);
  }

  classified(prediction: Pick<Prediction, 'streamId' | 'latencyMs'>): void {
    const s = this.stream(prediction.streamId);
    s.classified++;
    s.outWindow.add(this.now(), 1, prediction.latencyMs);
    this.metrics.framesClassified.inc({ stream: prediction.streamId });
    this.metrics.predictionLatency.observe({ stream: prediction.streamId }, prediction.latencyMs / 1000);
  }

  /**
   * One engine batch. `busyMs` is the time the engine was busy on it (default `latencyMs`; with
   * batches overlapping in flight, pass the non-overlapping share so utilisation stays <= 1).
   */
  batch(info: { size: number; latencyMs: number; busyMs?: number }): void {
    const now = this.now();
    this.lastBatchSize = info.size;
    this.batchWindow.add(now, 1, info.latencyMs);
    this.busyWindow.add(now, 1, info.busyMs ?? info.latencyMs);
    this.metrics.batchLatency.observe(info.latencyMs / 1000);
    this.metrics.batchSize.observe(info.size);
  }

  setState(streamId: string, state: StreamStateName): void {
    this.stream(streamId).state = state;
    this.metrics.streamUp.set({ stream: streamId }, state === 'live' ? 1 : 0);
  }

  /**
   * Forget a stream (removed at run time): its figures and every Prometheus series labelled with
   * it, so that streams coming and going over weeks do not grow the registry without bound.
   */
  remove(streamId: string): void {
    const s = this.streams.get(streamId);
    this.streams.delete(streamId);
    const stream = streamId;
    const m = this.metrics;
    m.streamUp.remove({ stream });
    m.framesIn.remove({ stream });
    m.framesClassified.remove({ stream });
    m.predictionLatency.remove({ stream });
    m.queueDelay.remove({ stream });
    m.streamReconnects.remove({ stream });
    m.streamRestarts.remove({ stream });
    m.streamInputFps.remove({ stream });
    m.streamClassifiedFps.remove({ stream });
    for (const reason of s?.dropReasons ?? []) m.framesDropped.remove({ stream, reason });
    for (const reason of s?.skipReasons ?? []) m.framesSkipped.remove({ stream, reason });
    for (const kind of s?.stallKinds ?? []) m.streamStalls.remove({ stream, kind });
  }

  /** The figures for a `stats` message; also refreshes the utilisation gauge. */
  snapshot(): StatsSnapshot {
    const now = this.now();
    const streams: Record<string, StreamStats> = {};
    for (const [id, s] of this.streams) {
      const latency = s.outWindow.mean(now);
      const fpsIn = s.inWindow.rate(now);
      const fpsClassified = s.outWindow.rate(now);
      this.metrics.streamInputFps.set({ stream: id }, fpsIn);
      this.metrics.streamClassifiedFps.set({ stream: id }, fpsClassified);
      streams[id] = {
        ...(s.state === undefined ? {} : { state: s.state }),
        fpsIn: round(fpsIn),
        fpsClassified: round(fpsClassified),
        ...(latency === undefined ? {} : { latencyMs: round(latency) }),
        dropped: s.dropped,
        framesIn: s.framesIn,
        classified: s.classified,
        ...(s.stalls > 0 ? { stalls: s.stalls } : {}),
        ...(s.restarts > 0 ? { restarts: s.restarts } : {}),
      };
    }
    const utilization = Math.min(1, this.busyWindow.sumRate(now));
    this.metrics.engineUtilization.set(utilization);
    const engine: EngineStats = { utilization: round(utilization, 3) };
    const batchLatency = this.batchWindow.mean(now);
    if (batchLatency !== undefined) engine.batchLatencyMs = round(batchLatency);
    if (this.lastBatchSize !== undefined) engine.batchSize = this.lastBatchSize;
    return { streams, engine };
  }

  private stream(id: string): StreamState {
    let s = this.streams.get(id);
    if (!s) {
      s = {
        state: undefined,
        stalled: false,
        framesIn: 0,
        classified: 0,
        dropped: 0,
        sourceFrames: 0,
        sourceDropped: 0,
        inWindow: new SlidingWindow(this.windowMs),
        outWindow: new SlidingWindow(this.windowMs),
        dropReasons: new Set(),
        skipReasons: new Set(),
        stallKinds: new Set(),
        stalls: 0,
        restarts: 0,
      };
      this.streams.set(id, s);
    }
    return s;
  }

  private emit(event: ServerEvent): void {
    this.options.onEvent?.(event);
  }
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** What a source's end means to a person reading the events. */
export function endedMessage(reason: 'complete' | 'error' | 'unsubscribed', frames: number): string {
  const count = `${frames} frame${frames === 1 ? '' : 's'}`;
  if (reason === 'complete') return `end of input after ${count}`;
  if (reason === 'error') return `stopped by an error after ${count}`;
  return `stopped after ${count}`;
}
