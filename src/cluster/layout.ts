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

/**
 * The KV buckets; heartbeats and leases expire their TTL after their last renewal. A bucket's TTL is
 * fixed when it is made, so a worker that states TTLs sets them on existing buckets too (the last
 * worker started wins: give all workers the same --heartbeat and --lease-ttl).
 */
export async function openBuckets(
  nc: NatsConnection,
  o: { workerTtlMs?: number; leaseTtlMs?: number } = {},
): Promise<Buckets> {
  const kvm = new Kvm(nc);
  const withTtl = async (name: string, ttlMs: number | undefined, storage: StorageType) => {
    const kv = await kvm.create(name, { history: 1, ttl: ttlMs ?? DEFAULT_TTL_MS, storage });
    if (ttlMs !== undefined && (await kv.status()).ttl !== ttlMs) {
      const jsm = await jetstreamManager(nc);
      const stream = `KV_${name}`;
      const info = await jsm.streams.info(stream);
      // The duplicate window may not exceed the age limit.
      const window = Math.min(ttlMs, 120_000);
      await jsm.streams.update(stream, {
        ...info.config,
        max_age: nanos(ttlMs),
        duplicate_window: nanos(window),
      });
    }
    return kv;
  };
  return {
    jobs: await kvm.create(BUCKETS.jobs, { history: 1, storage: StorageType.File }),
    workers: await withTtl(BUCKETS.workers, o.workerTtlMs, StorageType.Memory),
    feeds: await kvm.create(BUCKETS.feeds, { history: 1, storage: StorageType.File }),
    leases: await withTtl(BUCKETS.leases, o.leaseTtlMs, StorageType.File),
  };
}

const DEFAULT_TTL_MS = 10_000;
const isNotFound = (e: unknown) => /not found/i.test((e as Error).message);
