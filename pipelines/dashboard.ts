import { type Subscription, tap } from 'rxjs';
import type { Engine } from '../src/engine/types.js';
import { engineBeginBatch } from '../src/operators/batchFrames.js';
import { classify } from '../src/operators/classify.js';
import type { BackoffOptions } from '../src/operators/reconnect.js';
import type { StreamInfo, StreamStateName } from '../src/server/protocol.js';
import type { VitstreamServer } from '../src/server/server.js';
import { endedMessage } from '../src/server/stats.js';
import { shortStreamId, uniqueStreamIds } from '../src/server/stream-id.js';
import { type Logger, silentLogger } from '../src/util/logger.js';
import { redactCredentials } from '../src/util/redact.js';
import type { ResizeMode } from '../src/video/args.js';
import type { DecodeOptions } from '../src/video/decodeFrames.js';
import type { SourceEvent } from '../src/video/events.js';
import { type ResolvedSource, resolveSource } from '../src/video/source.js';
import { type FeedSource, liveFeeds } from './liveFeeds.js';
import { type ApiSourceCheck, createStreamControl } from './streamControl.js';

/** The same thing as liveFeeds' FeedSource: a source plus its sampling and drop policy. */
export type { FeedSource as FeedSpec } from './liveFeeds.js';

export interface DashboardPipelineOptions {
  engine: Engine;
  server: VitstreamServer;
  feeds: FeedSource[];
  maxBatch?: number;
  maxDelayMs?: number;
  resize?: ResizeMode;
  /** Where and how the feeds decode (decodeFrames' options of the same names). */
  decode?: Pick<DecodeOptions, 'hwaccel' | 'pixelFormat' | 'keyframesOnly'>;
  topK?: number;
  /**
   * How frames reach the engine: 'direct' (default) writes them straight into its batches where
   * it has beginBatch (the GPU engines' mapped staging memory); 'infer' fills a pooled batch
   * buffer that infer() copies (engines without beginBatch always take this road).
   */
  inputPath?: 'direct' | 'infer';
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
  /** Streams running at once beyond which the stream API refuses an add (default 64). */
  maxStreams?: number;
  /** The source policy for streams added over the API (default: network URLs only, no local paths). */
  checkSource?: ApiSourceCheck;
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
  // Feeds without an id get a short one (a file's base name, a URL's host/path, never its
  // credentials: ids show in the list, events, logs and metrics labels), unique among all feeds.
  const given = o.feeds.flatMap((f) => (f.id === undefined ? [] : [f.id]));
  const unnamed = o.feeds.filter((f) => f.id === undefined && (f.url ?? f.path) !== undefined);
  const derived = uniqueStreamIds(
    unnamed.map((f) => shortStreamId((f.url ?? f.path)!)),
    given,
  );
  const withIds = o.feeds.map((f) => {
    const i = unnamed.indexOf(f);
    return i < 0 ? f : { ...f, id: derived[i] };
  });
  const sources = withIds.map((f, i) => resolveSource(f, i));
  const maxBatch = Math.min(o.maxBatch ?? engine.maxBatch, engine.maxBatch);
  const maxDelayMs = o.maxDelayMs ?? 50;
  server.metrics.batchMaxSize.set(maxBatch);
  server.metrics.batchMaxDelay.set(maxDelayMs / 1000);
  const gpu = engine as Engine & { gpuBytes?: number };
  server.metrics.setGpuBytesProvider(() => gpu.gpuBytes);
  const states = new Map<string, StreamStateName>();
  const failures = new Map<string, string>(); // id -> the source's last error, until it recovers
  const removed = new Map<string, number>(); // id -> when: its late predictions are not published
  const feeds = liveFeeds(
    withIds.map((f, i) => ({ ...f, id: sources[i].id })),
    {
      size: engine.config.imageSize,
      resize: o.resize,
      ...o.decode,
      maxBatch,
      maxDelayMs,
      backoff: o.backoff,
      firstFrameTimeoutMs: o.firstFrameTimeoutMs,
      noFrameTimeoutMs: o.noFrameTimeoutMs,
      keepAlive: o.keepAlive ?? true,
      onSkipped: (f) => server.stats.skipped(f.streamId, 'sampling'),
      // A batch the engine cannot begin goes through infer(), whose failure classify skips: the feeds go on.
      beginBatch:
        o.inputPath === 'infer'
          ? undefined
          : engineBeginBatch(engine, (e) =>
              logger.warn({ err: e }, 'engine batch not begun; this one goes through infer'),
            ),
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
          message: `stream added: ${redactCredentials(ev.source.input)}`,
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
        if (ev.type === 'error') failures.set(ev.streamId, redactCredentials(ev.error.message));
        else if (ev.type === 'recovered') failures.delete(ev.streamId);
        logSourceEvent(logger, ev, states.get(ev.streamId));
        server.stats.sourceEvent(ev);
    }
  });

  const info = (s: ResolvedSource): StreamInfo => ({
    id: s.id,
    input: redactCredentials(s.input),
    kind: s.kind,
    live: s.live,
    ...(states.get(s.id) && { state: states.get(s.id) }),
    ...(s.realtime !== undefined && { realtime: s.realtime }),
    ...(s.loop !== undefined && { loop: s.loop }),
    ...((s as FeedSource).sample && { sample: (s as FeedSource).sample }),
  });
  const controller = createStreamControl({
    feeds,
    maxStreams: o.maxStreams ?? 64,
    checkSource: o.checkSource,
    describe: info,
    isShown: (id) => server.hub.streams.includes(id),
    forget,
    logger,
  });
  if (o.streamControl !== false) server.setStreamController(controller);

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
          // The pixels ride with the prediction, copied only when a viewer wants this stream's thumbnail now.
          keepPixels: (f) => server.hub.wantsThumbnail(f.streamId),
        }),
      )
      .subscribe({
        next: ({ image, ...p }) => {
          if (removed.has(p.streamId)) return;
          // Counted here, with the pipeline's other figures; the hub only fans out.
          server.stats.classified(p);
          server.hub.publish(p, { thumbnail: image });
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
    },
  };
}

/** A source's life in the server log: failures as errors, restarts as warnings, the rest as info ('stats' at debug). */
export function logSourceEvent(logger: Logger, ev: SourceEvent, state: StreamStateName | undefined): void {
  const stream = ev.streamId;
  switch (ev.type) {
    case 'error':
      logger.error({ stream, err: redactCredentials(ev.error.message) }, 'source failed');
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
      // 'unsubscribed' is RxJS's word: here it is the watchdog closing a stalled connection (a
      // restart follows) or the stream being stopped.
      if (ev.reason === 'unsubscribed' && (state === 'stalled' || state === 'reconnecting'))
        logger.info({ stream, frames: ev.frames }, 'stalled connection closed by the watchdog; restarting');
      else logger.info({ stream, frames: ev.frames }, `source ended: ${endedMessage(ev.reason, ev.frames)}`);
      return;
    case 'started':
      logger.debug({ stream, pid: ev.pid, attempt: ev.attempt }, 'ffmpeg started');
      return;
    case 'stats':
      logger.debug({ stream, frames: ev.frames, fps: ev.fps }, 'source stats');
      return;
    case 'warning':
      logger.warn({ stream, message: redactCredentials(ev.message) }, 'source warning');
  }
}
