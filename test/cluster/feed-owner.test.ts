import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { startFeedOwner } from '../../src/cluster/feed-owner.js';
import type { Buckets } from '../../src/cluster/layout.js';
import type { Engine } from '../../src/engine/types.js';
import { silentLogger } from '../../src/util/logger.js';

describe('startFeedOwner', () => {
  it('stop() does not wait for a feed scan that a gone server never answers (leases expire anyway)', async () => {
    let scanning!: () => void;
    const scanned = new Promise<void>((resolve) => {
      scanning = resolve;
    });
    // A server that is gone: listing the feeds never settles.
    const never = () => new Promise<never>(() => {});
    const kv = {
      keys: () => {
        scanning();
        return never();
      },
      get: never,
      update: never,
      create: never,
      delete: never,
    } as unknown as KV;
    const buckets = { leases: kv, feeds: kv, workers: kv } as unknown as Buckets;
    // No feed is ever taken, so the engine is only asked its sizes.
    const engine = { config: { imageSize: 8, numClasses: 2 }, maxBatch: 1 } as unknown as Engine;
    const owner = startFeedOwner({
      nc: {} as NatsConnection,
      engine,
      buckets,
      worker: { id: 'w1', host: 'h', gpu: '0' },
      capacity: 1,
      renewMs: 60_000,
      logger: silentLogger,
      goodbyeMs: 10,
    });
    // The first scan starts at once and hangs on the server.
    await scanned;
    await owner.stop();
    expect(owner.owned()).toEqual([]);
  });
});
