import type { KV } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { startHeartbeat } from '../../src/cluster/heartbeat.js';
import type { WorkerRecord } from '../../src/cluster/messages.js';
import { silentLogger } from '../../src/util/logger.js';

describe('startHeartbeat', () => {
  it('stop() does not wait on a server that never answers the record delete (the record expires anyway)', async () => {
    const deletes: string[] = [];
    // A server that is gone: puts and deletes never settle.
    const kv = {
      put: () => new Promise(() => {}),
      delete: (key: string) => {
        deletes.push(key);
        return new Promise(() => {});
      },
    } as unknown as KV;
    const record = { id: 'w1' } as WorkerRecord;
    const heartbeat = startHeartbeat(kv, () => record, 60_000, silentLogger, 10);
    await heartbeat.stop();
    expect(deletes).toEqual(['w1']);
  });
});
