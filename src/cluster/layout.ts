import {
  AckPolicy,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import { BUCKETS, STREAMS, workFilter } from './subjects.js';

export interface LayoutOptions {
  /** How long a redelivered file's frames are recognised as duplicates (default 30 min): longer than any ack wait plus a file's run. */
  duplicateWindowMs?: number;
  /** How long predictions and dead letters are kept (default 7 days). */
  keepMs?: number;
}

/**
 * Creates the streams once (idempotent: submit, worker and results may each come first). File storage:
 * a restarted nats-server keeps queued work and stored predictions.
 */
export async function ensureStreams(nc: NatsConnection, o: LayoutOptions = {}): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const keep = nanos(o.keepMs ?? 7 * 24 * 3600_000);
  await ensureStream(jsm, {
    name: STREAMS.work,
    subjects: ['vitstream.work.>'],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(120_000),
  });
  await ensureStream(jsm, {
    name: STREAMS.pred,
    subjects: ['vitstream.pred.>'],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: keep,
    duplicate_window: nanos(o.duplicateWindowMs ?? 30 * 60_000),
  });
  await ensureStream(jsm, {
    name: STREAMS.dead,
    subjects: ['vitstream.dead.>'],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: keep,
  });
  return jsm;
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Parameters<JetStreamManager['streams']['add']>[0],
): Promise<void> {
  try {
    await jsm.streams.info(config.name!);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    try {
      await jsm.streams.add(config);
    } catch (e2) {
      // Another process created it between our look and our add.
      if (!/already in use|exists/i.test((e2 as Error).message)) throw e2;
    }
  }
}

/**
 * The durable pull consumer that every worker of one model shares. The server delivers without limit
 * (max_deliver -1): the worker counts deliveries itself, so that a file given up goes to the dead
 * letter with its reason instead of vanishing silently.
 */
export async function ensureWorkConsumer(
  jsm: JetStreamManager,
  model: string,
  ackWaitMs: number,
): Promise<string> {
  const name = `workers-${model}`;
  const config = {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(ackWaitMs),
    max_deliver: -1,
    filter_subject: workFilter(model),
    max_ack_pending: 10_000,
  };
  try {
    const info = await jsm.consumers.info(STREAMS.work, name);
    // The last worker to start sets the ack wait: all workers of a model should agree on it.
    if (info.config.ack_wait !== config.ack_wait)
      await jsm.consumers.update(STREAMS.work, name, { ack_wait: config.ack_wait });
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await jsm.consumers.add(STREAMS.work, config);
  }
  return name;
}

export interface Buckets {
  jobs: KV;
  workers: KV;
  feeds: KV;
  leases: KV;
}

/** The KV buckets; heartbeats and leases expire `ttlMs` after their last renewal. */
export async function openBuckets(
  nc: NatsConnection,
  o: { workerTtlMs?: number; leaseTtlMs?: number } = {},
): Promise<Buckets> {
  const kvm = new Kvm(nc);
  return {
    jobs: await kvm.create(BUCKETS.jobs, { history: 1, storage: StorageType.File }),
    workers: await kvm.create(BUCKETS.workers, {
      history: 1,
      ttl: o.workerTtlMs ?? 10_000,
      storage: StorageType.Memory,
    }),
    feeds: await kvm.create(BUCKETS.feeds, { history: 1, storage: StorageType.File }),
    leases: await kvm.create(BUCKETS.leases, {
      history: 1,
      ttl: o.leaseTtlMs ?? 10_000,
      storage: StorageType.File,
    }),
  };
}

const isNotFound = (e: unknown) => /not found/i.test((e as Error).message);
