import type { NatsConnection } from '@nats-io/transport-node';
import type { Subscription } from 'rxjs';
import { type FeedSource, liveFeeds } from '../../pipelines/liveFeeds.js';
import type { Engine } from '../engine/types.js';
import { engineBeginBatch } from '../operators/batchFrames.js';
import { classify } from '../operators/classify.js';
import type { Logger } from '../util/logger.js';
import { atMost, GOODBYE_MS } from './connect.js';
import { feedSourceProblem } from './feeds.js';
import type { Buckets } from './layout.js';
import { decode, encode, FeedDefinition, type FeedLease, WorkerRecord } from './messages.js';
import type { WorkerMetrics } from './metrics.js';
import { liveSubject } from './subjects.js';

export interface FeedOwnerOptions {
  nc: NatsConnection;
  engine: Engine;
  buckets: Buckets;
  worker: { id: string; host: string; gpu: string };
  /** Feeds this worker runs at most. */
  capacity: number;
  /** Lease renewal and feed scan period: a third of the lease TTL. */
  renewMs: number;
  logger: Logger;
  onChange?: () => void;
  metrics?: WorkerMetrics;
  /** How long stop() waits for the server at most (default GOODBYE_MS). */
  goodbyeMs?: number;
}

export interface FeedOwner {
  owned(): string[];
  stop(): Promise<void>;
}

/**
 * Runs the live feeds this worker holds leases on. Every `renewMs` it renews its leases (a lease it
 * cannot renew, because it expired and another worker took it, stops its feed here), drops feeds whose
 * definition was removed, and takes at most one free feed when it is the least loaded live worker,
 * so feeds spread by capacity. A lease is a KV entry created only if absent (atomic), expiring TTL after
 * its last renewal: a dead worker's feeds are free within the TTL and taken within one more scan.
 */
export function startFeedOwner(o: FeedOwnerOptions): FeedOwner {
  const { leases, feeds: definitions, workers } = o.buckets;
  const owned = new Map<string, number>(); // feed -> lease revision
  const refused = new Set<string>(); // feeds whose source this worker refuses (logged once)
  const log = o.logger;
  const registry = liveFeeds([], {
    size: o.engine.config.imageSize,
    maxBatch: o.engine.maxBatch,
    keepAlive: true,
    beginBatch: engineBeginBatch(o.engine, (e) =>
      log.warn({ err: (e as Error).message }, 'engine batch not begun; this one goes through infer'),
    ),
  });
  const sub: Subscription = registry.batches
    .pipe(
      classify(o.engine, {
        errors: 'skip',
        onError: (e) => log.warn({ err: (e as Error).message }, 'live batch failed'),
      }),
    )
    .subscribe({
      next: (p) => {
        if (!owned.has(p.streamId)) return;
        try {
          o.nc.publish(liveSubject(p.streamId), encode({ ...p, worker: o.worker.id, gpu: o.worker.gpu }));
          o.metrics?.predictions.inc({ kind: 'live' });
        } catch {
          // Connection closed (stopping): live predictions are not stored, so there is nothing to retry.
        }
      },
      error: (e: Error) => log.error({ err: e.message }, 'live pipeline failed'),
    });
  const lease = (feed: string): FeedLease => ({
    feed,
    worker: o.worker.id,
    host: o.worker.host,
    gpu: o.worker.gpu,
    since: new Date().toISOString(),
  });

  const release = (feed: string, why: string) => {
    owned.delete(feed);
    registry.remove(feed);
    log.info({ feed, why }, 'feed released');
    o.metrics?.feedsOwned.set(owned.size);
    o.onChange?.();
  };

  const renew = async () => {
    for (const [feed, revision] of [...owned]) {
      try {
        owned.set(feed, await leases.update(feed, encode(lease(feed)), revision));
      } catch (e) {
        release(feed, `lease lost: ${(e as Error).message}`);
      }
    }
  };

  /** Least loaded (feeds / capacity) among live workers, this one included; ties go to the smaller id. */
  const isLeastLoaded = async (): Promise<boolean> => {
    const mine = owned.size / o.capacity;
    for await (const key of await workers.keys()) {
      if (key === o.worker.id) continue;
      const e = await workers.get(key).catch(() => null);
      if (e?.operation !== 'PUT') continue;
      let r: WorkerRecord;
      try {
        r = decode(WorkerRecord, e.value, `worker ${key}`);
      } catch {
        continue;
      }
      if (r.capacity.feeds <= r.feeds.length) continue;
      const theirs = r.feeds.length / r.capacity.feeds;
      if (theirs < mine || (theirs === mine && r.id < o.worker.id)) return false;
    }
    return true;
  };

  const scan = async () => {
    const defined = new Map<string, FeedDefinition>();
    for await (const key of await definitions.keys()) {
      const e = await definitions.get(key).catch(() => null);
      if (e?.operation !== 'PUT') continue;
      try {
        defined.set(key, decode(FeedDefinition, e.value, `feed ${key}`));
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'bad feed definition ignored');
      }
    }
    for (const feed of [...owned.keys()])
      if (!defined.has(feed)) {
        release(feed, 'removed');
        await leases.delete(feed).catch(() => undefined);
      }
    if (owned.size >= o.capacity) return;
    const free: FeedDefinition[] = [];
    for (const def of defined.values()) {
      if (owned.has(def.id)) continue;
      // The bus is not trusted: a definition this worker cannot or must not open is left alone (told once).
      const problem = await feedSourceProblem(def.url);
      if (problem) {
        if (!refused.has(def.id)) log.warn({ feed: def.id, problem }, 'feed not taken');
        refused.add(def.id);
        continue;
      }
      const l = await leases.get(def.id).catch(() => null);
      if (l?.operation !== 'PUT') free.push(def);
    }
    if (free.length === 0 || !(await isLeastLoaded())) return;
    const def = free[0]!;
    let revision: number;
    try {
      revision = await leases.create(def.id, encode(lease(def.id)));
    } catch {
      return; // another worker was first
    }
    owned.set(def.id, revision);
    const source: FeedSource = {
      id: def.id,
      path: def.url,
      sample: def.sample,
      ...(def.loop && { loop: true, realtime: true, live: true }),
    };
    try {
      registry.add(source);
      log.info({ feed: def.id }, 'feed taken');
      o.metrics?.feedsOwned.set(owned.size);
      o.onChange?.();
    } catch (e) {
      release(def.id, (e as Error).message);
      await leases.delete(def.id).catch(() => undefined);
    }
  };

  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = running
      .then(async () => {
        if (stopped) return;
        await renew();
        await scan();
      })
      .catch((e: Error) => log.warn({ err: e.message }, 'feed scan failed'));
  };
  const timer = setInterval(tick, o.renewMs);
  tick();
  return {
    owned: () => [...owned.keys()],
    async stop() {
      stopped = true;
      clearInterval(timer);
      // The feeds stop here first: what follows waits on the server, which may not answer.
      sub.unsubscribe();
      // Leases are handed back at once: the feeds move now, not after the TTL (which frees them
      // anyway, so a scan in flight or a server that is gone holds the stop `goodbyeMs` at most).
      await atMost(
        (async () => {
          await running;
          await Promise.all([...owned.keys()].map((feed) => leases.delete(feed).catch(() => undefined)));
        })(),
        o.goodbyeMs ?? GOODBYE_MS,
      );
      owned.clear();
    },
  };
}
