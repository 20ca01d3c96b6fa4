import { type Subscription } from 'rxjs';
import type { Engine } from '../src/engine/types.js';
import { classify } from '../src/operators/classify.js';
import type { DropPolicy } from '../src/operators/decodeFrames.js';
import type { BackoffOptions } from '../src/operators/reconnect.js';
import type { SampleOptions } from '../src/operators/sampleFrames.js';
import type { VitstreamServer } from '../src/server/server.js';
import { type Logger, silentLogger } from '../src/util/logger.js';
import type { ResizeMode } from '../src/video/args.js';
import { resolveSource, type VideoSource } from '../src/video/source.js';
import { liveFeeds } from './liveFeeds.js';

export interface FeedSpec extends VideoSource {
  sample?: SampleOptions;
  policy?: DropPolicy;
}

export interface DashboardPipelineOptions {
  engine: Engine;
  server: VitstreamServer;
  feeds: FeedSpec[];
  maxBatch?: number;
  maxDelayMs?: number;
  resize?: ResizeMode;
  topK?: number;
  backoff?: BackoffOptions;
  logger?: Logger;
}

export interface DashboardPipeline {
  /** Resolves when every feed has ended for good (files played once), or after stop(). */
  done: Promise<void>;
  stop(): void;
}

/**
 * Live feeds -> batches -> engine -> WebSocket hub and metrics. Each feed reconnects on its own;
 * a failing batch is reported and skipped, never ending the other streams.
 */
export function runDashboardPipeline(o: DashboardPipelineOptions): DashboardPipeline {
  const logger = o.logger ?? silentLogger;
  const { engine, server } = o;
  const sources = o.feeds.map((f, i) => resolveSource(f, i));
  server.hub.setStreams(sources.map((s) => s.id));
  const bySource = new Map(o.feeds.map((f, i) => [sources[i].id, f]));
  const feeds = liveFeeds(sources, {
    size: engine.config.imageSize,
    resize: o.resize,
    maxBatch: Math.min(o.maxBatch ?? engine.maxBatch, engine.maxBatch),
    maxDelayMs: o.maxDelayMs ?? 50,
    backoff: o.backoff,
    policyFor: (s) => bySource.get(s.id ?? '')?.policy,
    sampleFor: (s) => bySource.get(s.id ?? '')?.sample,
  });
  const eventsSub = feeds.events.subscribe((ev) => server.stats.sourceEvent(ev));
  // Pixels of frames whose stream wants a thumbnail, kept from batch release to publish.
  const pending = new Map<string, Uint8Array>();
  const S = engine.config.imageSize;
  let sub: Subscription | undefined;
  const done = new Promise<void>((resolve) => {
    sub = feeds.batches
      .pipe(
        classify(engine, {
          topK: o.topK,
          errors: 'skip',
          onError: (e, frames) => {
            logger.error({ err: e, frames: frames.length }, 'batch failed');
            for (const f of frames) server.stats.dropped(f.streamId, 'engine_error', 1);
          },
          onBatch: ({ count, engineMs }) => server.stats.batch({ size: count, latencyMs: engineMs }),
          onFrames: (frames, rgb, frameBytes) => {
            frames.forEach((f, i) => {
              if (server.hub.wantsThumbnail(f.streamId)) pending.set(`${f.streamId}\n${f.index}`, rgb.slice(i * frameBytes, (i + 1) * frameBytes));
            });
          },
        }),
      )
      .subscribe({
        next: (p) => {
          const key = `${p.streamId}\n${p.frame}`;
          const rgb = pending.get(key);
          pending.delete(key);
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
    stop() {
      sub?.unsubscribe();
      eventsSub.unsubscribe();
    },
  };
}
