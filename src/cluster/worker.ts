import os from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Engine } from '../engine/types.js';
import type { Logger } from '../util/logger.js';
import { type FeedOwner, startFeedOwner } from './feed-owner.js';
import { startFileWorker } from './file-worker.js';
import { startHeartbeat } from './heartbeat.js';
import { ensureStreams, ensureWorkConsumer, openBuckets } from './layout.js';
import type { WorkerRecord, WorkItem } from './messages.js';
import type { WorkerMetrics } from './metrics.js';
import { modelKey } from './subjects.js';

export interface WorkerOptions {
  nc: NatsConnection;
  engine: Engine;
  id: string;
  model: string;
  gpu: string;
  adapter: string;
  /** Files at once (default 1) and live feeds at most (default 4; 0 takes none). */
  files?: number;
  feeds?: number;
  ackWaitMs?: number;
  maxDeliver?: number;
  heartbeatMs?: number;
  /** Lease TTL (default 10 s): a dead worker's feeds are free this long after its last renewal. */
  leaseTtlMs?: number;
  logger: Logger;
  metrics?: WorkerMetrics;
}

export interface Worker {
  id: string;
  /** Resolves when stopped. */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** One engine serving the cluster: file work from the model's queue, and live feeds it holds leases on. */
export async function startWorker(o: WorkerOptions): Promise<Worker> {
  const heartbeatMs = o.heartbeatMs ?? 2000;
  const leaseTtlMs = o.leaseTtlMs ?? 10_000;
  const ackWaitMs = o.ackWaitMs ?? 60_000;
  const jsm = await ensureStreams(o.nc);
  const model = modelKey(o.model);
  const consumer = await ensureWorkConsumer(jsm, model, ackWaitMs);
  const buckets = await openBuckets(o.nc, { workerTtlMs: heartbeatMs * 3, leaseTtlMs });
  const startedAt = new Date().toISOString();
  let busy: WorkItem[] = [];
  let feedOwner: FeedOwner | undefined;
  const capacity = { files: o.files ?? 1, feeds: o.feeds ?? 4 };
  const record = (): WorkerRecord => ({
    id: o.id,
    host: os.hostname(),
    pid: process.pid,
    gpu: o.gpu,
    adapter: o.adapter,
    model: o.model,
    precision: o.engine.precision,
    capacity,
    busy: busy.map((b) => ({ job: b.job, key: b.key, name: b.name })),
    feeds: feedOwner?.owned() ?? [],
    startedAt,
    at: startedAt,
  });
  const heartbeat = startHeartbeat(buckets.workers, record, heartbeatMs, o.logger);
  const files = startFileWorker({
    nc: o.nc,
    engine: o.engine,
    workerId: o.id,
    consumer,
    capacity: capacity.files,
    ackWaitMs,
    maxDeliver: o.maxDeliver,
    logger: o.logger,
    metrics: o.metrics,
    onBusy: (b) => {
      busy = b;
      void heartbeat.beat();
    },
  });
  if (capacity.feeds > 0)
    feedOwner = startFeedOwner({
      nc: o.nc,
      engine: o.engine,
      buckets,
      worker: { id: o.id, host: os.hostname(), gpu: o.gpu },
      capacity: capacity.feeds,
      // Renewed three times per TTL: one lost renewal does not lose the lease.
      renewMs: Math.max(200, Math.floor(leaseTtlMs / 3)),
      logger: o.logger,
      metrics: o.metrics,
      onChange: () => void heartbeat.beat(),
    });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Together: each goodbye waits for a server that may not answer (GOODBYE_MS at most).
      await Promise.allSettled([files.stop(), feedOwner?.stop(), heartbeat.stop()]);
    })());
  return { id: o.id, done: files.done, stop };
}
