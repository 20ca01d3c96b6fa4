import type { NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listFeeds } from '../../src/cluster/feeds.js';
import { type CliProcess, ensureBuilt, startCli } from '../helpers/cli.js';
import { hasNatsServer, type NatsServer, startNatsServer } from './nats-server.js';

// `vitstream serve --nats URL`: the stream API of the served dashboard adds and removes cluster feeds.

const TOKEN = 'serve-nats-token';

describe.skipIf(!hasNatsServer)('vitstream serve --nats: stream control', () => {
  let nats: NatsServer | undefined;
  let nc: NatsConnection | undefined;
  let serve: CliProcess | undefined;

  beforeAll(() => ensureBuilt());
  afterEach(async () => {
    serve?.kill();
    await nc?.close();
    await nats?.stop();
  });

  it('POST /streams defines a feed in KV, DELETE removes it; --max-streams limits adds (429)', async () => {
    nats = await startNatsServer();
    nc = await nats.connect();
    serve = startCli(['serve', '--nats', nats.url, '--port', '0', '--token', TOKEN, '--max-streams', '1']);
    const [, base] = await serve.waitForStderr(/on (http:\/\/\S+\/) \(dashboard\)/, 60_000);
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as { error?: string } };
    };
    const added = await call('POST', 'streams', { id: 'cam-1', url: 'rtsp://10.0.0.5/live', every: 2 });
    expect(added.status).toBe(201);
    expect((await listFeeds(nc)).map((f) => [f.def.id, f.def.url, f.def.sample])).toEqual([
      ['cam-1', 'rtsp://10.0.0.5/live', { every: 2 }],
    ]);
    expect((await call('POST', 'streams', { id: 'cam-2', url: 'rtsp://10.0.0.6/live' })).status).toBe(429);
    expect((await call('DELETE', 'streams/cam-1')).status).toBe(200);
    expect(await listFeeds(nc)).toEqual([]);
  });
});
