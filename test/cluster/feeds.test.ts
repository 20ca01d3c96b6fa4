import type { NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type CliProcess, cifarModel, ensureBuilt, runCli, startCli } from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';
import { hasNatsServer, type NatsServer, startNatsServer } from './nats-server.js';

// Live feeds leased to workers through KV with a TTL: a dead worker's feed moves to another.

const model = cifarModel();

describe.skipIf(!hasNatsServer)('vitstream feeds (leases over NATS KV)', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  const workers: CliProcess[] = [];
  const LEASE_TTL_S = 3;
  const startWorker = async (id: string) => {
    const w = startCli([
      'worker',
      '--nats',
      server.url,
      '--backend',
      'cpu',
      ...model.args,
      '--id',
      id,
      '--lease-ttl',
      String(LEASE_TTL_S),
      '--heartbeat',
      '1',
    ]);
    workers.push(w);
    await w.waitForStderr(/ready on/, 60_000);
    return w;
  };

  beforeAll(() => ensureBuilt());
  afterEach(async () => {
    for (const w of workers.splice(0)) w.kill();
    await nc?.close();
    await server?.stop();
  });

  it('a worker killed (SIGKILL): its feed resumes on another worker within the lease TTL and one scan', async () => {
    server = await startNatsServer();
    nc = await server.connect();
    // Who publishes on the feed's subject, in arrival order.
    const senders: { worker: string; at: number }[] = [];
    const waiters: (() => void)[] = [];
    const sub = nc.subscribe('vitstream.live.cam-1');
    void (async () => {
      for await (const m of sub) {
        senders.push({ worker: m.json<{ worker: string }>().worker, at: Date.now() });
        for (const w of waiters.splice(0)) w();
      }
    })();
    const firstFrom = (worker: string, ms: number) =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`no prediction from ${worker} within ${ms} ms: ${JSON.stringify(senders.slice(-3))}`),
            ),
          ms,
        );
        const check = () => {
          const hit = senders.find((s) => s.worker === worker);
          if (hit) {
            clearTimeout(timer);
            resolve(hit.at);
          } else waiters.push(check);
        };
        check();
      });

    const add = await runCli([
      'feeds',
      'add',
      'cam-1',
      sharedPath('media', 'street_bikes_640x272.mp4'),
      '--loop',
      '--every',
      '5',
      '--nats',
      server.url,
    ]);
    expect(add.code, add.stderr).toBe(0);
    const a = await startWorker('worker-a');
    await firstFrom('worker-a', 60_000);
    // B starts while A holds the lease: it waits.
    await startWorker('worker-b');
    const list = await runCli(['feeds', 'list', '--nats', server.url]);
    expect(list.stdout).toMatch(/^cam-1\t.*street_bikes.*\tworker-a \(gpu default/m);
    // serve --nats: the hub fed from the cluster, no engine; its clients see the feed and who runs it.
    const serve = startCli(['serve', '--nats', server.url, '--port', '0']);
    workers.push(serve);
    const [, httpUrl, wsUrl] = await serve.waitForStderr(
      /on (http:\/\/[^ ]+) \(dashboard\), (ws:\/\/[^ ]+) \(WebSocket\)/,
      30_000,
    );
    const client = new WebSocket(wsUrl!);
    const seen: { type: string; streamId?: string; kind?: string; worker?: string }[] = [];
    const arrived: (() => void)[] = [];
    client.on('message', (data) => {
      const msg = JSON.parse(String(data)) as (typeof seen)[number];
      seen.push(msg);
      if (msg.type === 'hello') client.send(JSON.stringify({ type: 'subscribe', streams: ['*'] }));
      for (const f of arrived.splice(0)) f();
    });
    const clientSees = (what: string, ok: (m: (typeof seen)[number]) => boolean, ms: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`client: no ${what} within ${ms} ms`)), ms);
        const check = () => {
          if (seen.some(ok)) {
            clearTimeout(timer);
            resolve();
          } else arrived.push(check);
        };
        check();
      });
    await clientSees('prediction of cam-1', (m) => m.type === 'prediction' && m.streamId === 'cam-1', 30_000);
    const killedAt = Date.now();
    a.kill();
    await a.exited;
    const resumedAt = await firstFrom('worker-b', 60_000);
    // Take-over bound: the lease TTL plus one scan (TTL/3), plus B's decoder start; 15 s is the documented default bound.
    expect(resumedAt - killedAt).toBeLessThan(15_000);
    const after = await runCli(['feeds', 'list', '--nats', server.url]);
    expect(after.stdout).toMatch(/^cam-1\t.*\tworker-b /m);
    await clientSees(
      'owner event for worker-b',
      (m) => m.type === 'event' && m.kind === 'owner' && m.streamId === 'cam-1' && m.worker === 'worker-b',
      30_000,
    );
    // The serving node's /metrics adds cluster totals from the heartbeats.
    const metrics = await (await fetch(`${httpUrl}metrics`)).text();
    expect(metrics).toMatch(/^vitstream_cluster_feeds 1$/m);
    expect(metrics).toMatch(/^vitstream_cluster_workers [12]$/m);
    client.close();
    sub.unsubscribe();
  }, 180_000);

  it('feed ids are checked before they become subjects; removing an unknown feed is one clear line', async () => {
    server = await startNatsServer();
    nc = await server.connect();
    for (const bad of ['a.b', 'x>', '*', 'sp ace', 'z'.repeat(65)]) {
      const r = await runCli(['feeds', 'add', bad, 'rtsp://cam/1', '--nats', server.url]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/feed id: expected 1-64 letters, digits/);
    }
    // Sources get serve's checks: schemes ffmpeg may read, files that exist; stdin makes no sense on a worker.
    for (const [source, message] of [
      ['ftp://cam/1', /feed cam-2: url "ftp:\/\/cam\/1": /],
      ['/no/such/clip.mp4', /feed cam-2: path "\/no\/such\/clip.mp4": no such file/],
      ['-', /feed cam-2: source "-": expected a camera, a stream URL or a video file/],
    ] as const) {
      const r = await runCli(['feeds', 'add', 'cam-2', source, '--nats', server.url]);
      expect(r.code, source).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    // Job ids are checked as well, and an unknown one is named.
    const bad = await runCli(['results', 'j1.>', '--nats', server.url]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^vitstream: JOB: expected 1-64 letters/);
    const none = await runCli(['results', 'j0', '--nats', server.url]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^vitstream: job j0: no such job on this NATS server\n$/);
    const r = await runCli(['feeds', 'remove', 'nope', '--nats', server.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vitstream: feed nope: no such feed\n$/);
  }, 60_000);
});
