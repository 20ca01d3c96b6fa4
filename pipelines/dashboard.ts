import { stat } from 'node:fs/promises';
import { type Subscription, tap } from 'rxjs';
import type { Engine } from '../src/engine/types.js';
import { type BatchingChoice, chooseBatching, measureBatchLatency } from '../src/operators/autoBatch.js';
import { classify } from '../src/operators/classify.js';
import type { BackoffOptions } from '../src/operators/reconnect.js';
import { parseStreamRequest } from '../src/serve-config.js';
import type { StreamInfo } from '../src/server/protocol.js';
import type { VitstreamServer } from '../src/server/server.js';
import { type StreamController, StreamRequestError } from '../src/server/streams.js';
import { type Logger, silentLogger } from '../src/util/logger.js';
import type { ResizeMode } from '../src/video/args.js';
import type { SourceEvent } from '../src/video/events.js';
import { probeMedia } from '../src/video/probe.js';
import { detectKind, type ResolvedSource, resolveSource } from '../src/video/source.js';
import { type FeedSource, liveFeeds } from './liveFeeds.js';

/** The same thing as liveFeeds' FeedSource: a source plus its sampling and drop policy. */
export type { FeedSource as FeedSpec } from './liveFeeds.js';

export interface DashboardPipelineOptions {
  engine: Engine;
  server: VitstreamServer;
  feeds: FeedSource[];
  maxBatch?: number;
  maxDelayMs?: number;
  resize?: ResizeMode;
  topK?: number;
  backoff?: BackoffOptions;
  /** Stall watchdog defaults for live feeds (each feed may override them). */
  firstFrameTimeoutMs?: number;
  noFrameTimeoutMs?: number;
  /**
   * Keep running when every feed has ended or been removed, so that feeds can be added later
   * through the stream API (default true). False: `done` resolves once no feed is left.
   */
  keepAlive?: boolean;
  /** Accept run-time stream control (HTTP /streams, WebSocket add-stream...). Default true. */
  streamControl?: boolean;
  logger?: Logger;
}

export interface DashboardPipeline {
  /** Resolves when every feed has ended for good (files played once, keepAlive false), or after stop(). */
  done: Promise<void>;
  /** Streams running now. */
  streams(): StreamInfo[];
  /** Feeds whose source failed and has not recovered since (a missing or broken file, a refusing camera), with the last error. */
  failures(): { id: string; message: string }[];
  stop(): void;
}

/** How long predictions still in flight for a removed stream are held back from clients. */
const REMOVED_GRACE_MS = 60_000;

/**
 * Live feeds -> batches -> engine -> WebSocket hub and metrics. Each feed reconnects on its own
 * and has a stall watchdog; feeds can be added and removed while it runs (the server's stream
 * API); a failing batch is reported and skipped, never ending the other streams.
 */
export function runDashboardPipeline(o: DashboardPipelineOptions): DashboardPipeline {
  const logger = o.logger ?? silentLogger;
  const { engine, server } = o;
  const sources = o.feeds.map((f, i) => resolveSource(f, i));
  const maxBatch = Math.min(o.maxBatch ?? engine.maxBatch, engine.maxBatch);
  const maxDelayMs = o.maxDelayMs ?? 50;
  server.metrics.batchMaxSize.set(maxBatch);
  server.metrics.batchMaxDelay.set(maxDelayMs / 1000);
  const gpu = engine as Engine & { gpuBytes?: number };
  server.metrics.setGpuBytesProvider(() => gpu.gpuBytes);
  const states = new Map<string, string>();
  const failures = new Map<string, string>(); // id -> the source's last error, until it recovers
  const removed = new Map<string, number>(); // id -> when: its late predictions are not published
  const feeds = liveFeeds(
    o.feeds.map((f, i) => ({ ...f, id: sources[i].id })),
    {
      size: engine.config.imageSize,
      resize: o.resize,
      maxBatch,
      maxDelayMs,
      backoff: o.backoff,
      firstFrameTimeoutMs: o.firstFrameTimeoutMs,
      noFrameTimeoutMs: o.noFrameTimeoutMs,
      keepAlive: o.keepAlive ?? true,
      onSkipped: (f) => server.stats.skipped(f.streamId, 'sampling'),
    },
  );
  server.hub.setStreams(feeds.list().map((s) => s.id));
  // Streams that ended on their own stay on the hub (clients see them 'ended'); removed ones leave.
  const announce = (added?: string) => {
    for (const id of states.keys()) if (!feeds.has(id)) states.delete(id);
    if (added !== undefined && !server.hub.streams.includes(added))
      server.hub.setStreams([...server.hub.streams, added]);
  };
  // A stream leaves the hub, the stats and the dashboard: removed while running, or (its card) after it ended.
  const forget = (id: string) => {
    states.delete(id);
    failures.delete(id);
    const now = Date.now();
    for (const [old, at] of removed) if (now - at > REMOVED_GRACE_MS) removed.delete(old);
    removed.set(id, now);
    server.hub.publishEvent({
      kind: 'stream-removed',
      level: 'info',
      streamId: id,
      message: 'stream removed',
    });
    server.stats.remove(id);
    server.hub.removeStream(id);
    announce();
  };
  const eventsSub = feeds.events.subscribe((ev) => {
    switch (ev.type) {
      case 'added':
        removed.delete(ev.streamId);
        states.set(ev.streamId, 'starting');
        announce(ev.streamId);
        server.hub.publishEvent({
          kind: 'stream-added',
          level: 'info',
          streamId: ev.streamId,
          message: `stream added: ${ev.source.input}`,
        });
        return;
      case 'removed':
        forget(ev.streamId);
        return;
      default:
        if (ev.type === 'started') states.set(ev.streamId, 'connecting');
        else if (ev.type === 'recovered' || (ev.type === 'stats' && ev.frames > 0))
          states.set(ev.streamId, 'live');
        else if (ev.type === 'stalled') states.set(ev.streamId, 'stalled');
        else if (ev.type === 'reconnecting') states.set(ev.streamId, 'reconnecting');
        else if (ev.type === 'ended' && ev.reason !== 'unsubscribed')
          states.set(ev.streamId, ev.reason === 'error' ? 'error' : 'ended');
        if (removed.has(ev.streamId)) return;
        if (ev.type === 'error') failures.set(ev.streamId, ev.error.message);
        else if (ev.type === 'recovered') failures.delete(ev.streamId);
        logSourceEvent(logger, ev);
        server.stats.sourceEvent(ev);
    }
  });

  const info = (s: ResolvedSource): StreamInfo => ({
    id: s.id,
    input: s.input,
    kind: s.kind,
    live: s.live,
    ...(states.get(s.id) && { state: states.get(s.id) }),
    ...(s.realtime !== undefined && { realtime: s.realtime }),
    ...(s.loop !== undefined && { loop: s.loop }),
    ...((s as FeedSource).sample && { sample: (s as FeedSource).sample }),
  });
  const controller: StreamController = {
    list: () => feeds.list().map(info),
    get: (id) => {
      const s = feeds.list().find((x) => x.id === id);
      return s && info(s);
    },
    add: async (request) => {
      const spec = await validateStreamRequest(request);
      if (feeds.has(spec.id ?? spec.url ?? spec.path ?? ''))
        throw new StreamRequestError(
          409,
          `a stream with id "${spec.id ?? spec.url ?? spec.path}" already exists`,
        );
      try {
        const s = feeds.add(spec);
        logger.info({ stream: s.id, input: s.input }, 'stream added');
        return info(s);
      } catch (e) {
        throw new StreamRequestError(
          /already exists/.test((e as Error).message) ? 409 : 503,
          (e as Error).message,
        );
      }
    },
    remove: async (id) => {
      if (feeds.remove(id)) {
        logger.info({ stream: id }, 'stream removed');
        return;
      }
      // Ended on its own (a file played once, a source that gave up): only its card is left to clear.
      if (!server.hub.streams.includes(id)) throw new StreamRequestError(404, `no stream with id "${id}"`);
      forget(id);
      logger.info({ stream: id }, 'ended stream removed');
    },
  };
  if (o.streamControl !== false) server.setStreamController(controller);

  // Pixels of frames whose stream wants a thumbnail, kept from batch release to publish.
  const pending = new Map<string, Uint8Array>();
  const S = engine.config.imageSize;
  let sub: Subscription | undefined;
  const done = new Promise<void>((resolve) => {
    sub = feeds.batches
      .pipe(
        tap((b) => {
          const now = Date.now();
          // Frames of a stream removed while they waited must not bring its series back.
          for (const f of b.frames)
            if (!removed.has(f.streamId)) server.stats.queueDelay(f.streamId, now - f.receivedAtMs);
        }),
        classify(engine, {
          topK: o.topK,
          errors: 'skip',
          onError: (e, frames) => {
            logger.error({ err: e, frames: frames.length }, 'batch failed');
            for (const f of frames)
              if (!removed.has(f.streamId)) server.stats.dropped(f.streamId, 'engine_error', 1);
          },
          onBatch: ({ count, engineMs }) => server.stats.batch({ size: count, latencyMs: engineMs }),
          onFrames: (frames, rgb, frameBytes) => {
            frames.forEach((f, i) => {
              if (server.hub.wantsThumbnail(f.streamId))
                pending.set(`${f.streamId}\n${f.index}`, rgb.slice(i * frameBytes, (i + 1) * frameBytes));
            });
          },
        }),
      )
      .subscribe({
        next: (p) => {
          const key = `${p.streamId}\n${p.frame}`;
          const rgb = pending.get(key);
          pending.delete(key);
          if (removed.has(p.streamId)) return;
          server.hub.publish(p, { thumbnail: rgb ? { rgb, width: S, height: S } : undefined });
        },
        error: (e) => {
          logger.error({ err: e }, 'pipeline stopped');
          resolve();
        },
        complete: () => resolve(),
      });
  });
  return {
    done,
    streams: controller.list,
    failures: () => [...failures].map(([id, message]) => ({ id, message })),
    stop() {
      server.setStreamController(undefined);
      sub?.unsubscribe();
      eventsSub.unsubscribe();
      pending.clear();
    },
  };
}

/** A source's life in the server log: failures as errors, restarts as warnings, the rest as info ('stats' at debug). */
function logSourceEvent(logger: Logger, ev: SourceEvent): void {
  const stream = ev.streamId;
  switch (ev.type) {
    case 'error':
      logger.error({ stream, err: ev.error.message }, 'source failed');
      return;
    case 'stalled':
      logger.warn({ stream, kind: ev.kind, waitedMs: ev.waitedMs }, 'source stalled: ffmpeg killed');
      return;
    case 'reconnecting':
      logger.warn({ stream, attempt: ev.attempt, delayMs: ev.delayMs }, 'source reconnecting');
      return;
    case 'recovered':
      logger.info({ stream, downMs: ev.downMs, restarts: ev.restarts }, 'source recovered');
      return;
    case 'ended':
      logger.info({ stream, reason: ev.reason, frames: ev.frames }, 'source ended');
      return;
    case 'started':
      logger.debug({ stream, pid: ev.pid, attempt: ev.attempt }, 'ffmpeg started');
      return;
    case 'stats':
      logger.debug({ stream, frames: ev.frames, fps: ev.fps }, 'source stats');
  }
}

const ALLOWED_SCHEMES = new Set([
  'rtsp',
  'rtsps',
  'rtmp',
  'rtmps',
  'http',
  'https',
  'udp',
  'tcp',
  'srt',
  'rtp',
]);

const urlExpected = () =>
  `expected an absolute URL with one of the schemes ${[...ALLOWED_SCHEMES].join(', ')}`;

/**
 * Why a feed's input cannot work, before anything is started: a URL of a scheme ffmpeg is not asked to
 * read or that does not parse, or a local file or folder that is not there (a camera device is left to
 * the watchdog: it may be plugged in later). undefined when it may work. One check for the stream API,
 * the command line and the config file.
 */
export async function feedInputProblem(s: { url?: string; path?: string }): Promise<string | undefined> {
  const input = s.url ?? s.path;
  if (input === undefined) return undefined;
  const field = s.url !== undefined ? 'url' : 'path';
  const kind = detectKind(input);
  if (kind === 'url') {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(input)![1]!.toLowerCase();
    let ok = ALLOWED_SCHEMES.has(scheme);
    if (ok) {
      try {
        new URL(input);
      } catch {
        ok = false;
      }
    }
    return ok ? undefined : `${field} "${input}": ${urlExpected()}`;
  }
  if (kind === 'file') {
    const st = await stat(input).catch(() => undefined);
    if (!st?.isFile() && !st?.isDirectory()) return `${field} "${input}": no such file on the server`;
  }
  return undefined;
}

/** A stream request from the API, checked: shape (400), URL scheme (400), local path exists (400). */
export async function validateStreamRequest(request: unknown): Promise<FeedSource> {
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    throw new StreamRequestError(400, 'expected a JSON object such as {"id": "cam1", "url": "rtsp://..."}');
  let s: ReturnType<typeof parseStreamRequest>;
  try {
    s = parseStreamRequest(request);
  } catch (e) {
    throw new StreamRequestError(400, (e as Error).message);
  }
  // A camera device may come as url, as in a config file's `url: /dev/video0`; other local paths go in path.
  if (s.url !== undefined && detectKind(s.url) !== 'url' && detectKind(s.url) !== 'device')
    throw new StreamRequestError(400, `url "${s.url}": ${urlExpected()}`);
  const problem = await feedInputProblem(s);
  if (problem) throw new StreamRequestError(400, problem);
  const { every, fps, ...rest } = s;
  return { ...rest, sample: every ? { every } : fps ? { fps } : undefined };
}

/** A feed's own frame rate (probed for files, `assumeFps` for cameras and URLs) and what it delivers after sampling. */
export async function feedFps(
  feed: FeedSource,
  assumeFps = 30,
): Promise<{ source: number; delivered: number }> {
  const input = feed.url ?? feed.path;
  const src = input ? resolveSource(feed) : undefined;
  let fps = assumeFps;
  if (src?.kind === 'file') fps = (await probeMedia(src.input, 5000)).fps ?? assumeFps;
  const sample = feed.sample;
  if (sample && 'fps' in sample) return { source: fps, delivered: Math.min(fps, sample.fps) };
  if (sample && 'every' in sample) return { source: fps, delivered: fps / sample.every };
  return { source: fps, delivered: fps };
}

/**
 * Chooses maxBatch and maxDelayMs for these feeds on this engine (see chooseBatching): measures the
 * engine at a few batch sizes with warm-up calls on blank frames, which also warms it for the feeds.
 */
export async function autoBatching(
  engine: Engine,
  feeds: FeedSource[],
  logger: Logger = silentLogger,
): Promise<BatchingChoice & { latency: { size: number; ms: number }[] }> {
  const rates = await Promise.all(feeds.map((f) => feedFps(f)));
  const fps = rates.map((r) => r.delivered);
  const latency = await measureBatchLatency(engine);
  const choice = chooseBatching({
    fps,
    sourceFps: rates.map((r) => r.source),
    latency,
    engineMaxBatch: engine.maxBatch,
  });
  logger.info(
    { maxBatch: choice.maxBatch, maxDelayMs: choice.maxDelayMs, fps, latency },
    `batching chosen: ${choice.reason}`,
  );
  return { ...choice, latency };
}
