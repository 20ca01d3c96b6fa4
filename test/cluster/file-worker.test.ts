import type { NatsConnection } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startFileWorker } from '../../src/cluster/file-worker.js';
import { ensureStreams, ensureWorkConsumer } from '../../src/cluster/layout.js';
import { STREAMS, workSubject } from '../../src/cluster/subjects.js';
import type { Engine } from '../../src/engine/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { hasNatsServer, type NatsServer, startNatsServer } from './nats-server.js';

describe.skipIf(!hasNatsServer)('startFileWorker', () => {
  let server: NatsServer | undefined;
  const connections: NatsConnection[] = [];
  afterEach(async () => {
    for (const c of connections.splice(0)) await c.close();
    await server?.stop();
  });

  it('stop() ends the pending pull at once (it waited for its 2 s expiry): work queued as the worker stops stays for the next', async () => {
    server = await startNatsServer();
    const nc = await server.connect();
    const sniffer = await server.connect();
    connections.push(nc, sniffer);
    const jsm = await ensureStreams(nc);
    const consumer = await ensureWorkConsumer(jsm, 'm', 60_000);
    // The worker's pull request, seen on its way to the consumer.
    const pulled = new Promise<void>((resolve) =>
      sniffer.subscribe(`$JS.API.CONSUMER.MSG.NEXT.${STREAMS.work}.${consumer}`, {
        max: 1,
        callback: () => resolve(),
      }),
    );
    await sniffer.flush();
    // No message reaches it, so the engine is never used.
    const worker = startFileWorker({
      nc,
      engine: {} as Engine,
      workerId: 'w',
      consumer,
      ackWaitMs: 60_000,
      logger: silentLogger,
    });
    await pulled;
    const stopped = worker.stop();
    // On the worker's own connection, so the server learns whether the pull is still there before
    // this message arrives: a pull left pending takes it (and hands it back), one ended does not.
    nc.publish(workSubject('m', 'j1'), '{}');
    await stopped;
    const info = await jsm.consumers.info(STREAMS.work, consumer);
    expect(info.delivered.consumer_seq).toBe(0);
    expect(info.num_pending).toBe(1);
  });
});
