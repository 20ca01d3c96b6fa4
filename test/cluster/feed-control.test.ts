import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterStreamControl, createClusterStreamControl } from '../../src/cluster/feed-control.js';
import { addFeed, listFeeds } from '../../src/cluster/feeds.js';
import { StreamConflictError } from '../../src/errors.js';
import { createServer, type VitstreamServer } from '../../src/server/server.js';
import { type Msg, TestClient } from '../server/helpers.js';
import { hasNatsServer, type NatsServer, startNatsServer } from './nats-server.js';

// `serve --nats`: the stream API defines and deletes cluster feeds in KV, as `vitstream feeds add` does.

const TOKEN = 'cluster-feeds-token';

describe.skipIf(!hasNatsServer)('cluster stream control through the HTTP and WebSocket API', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let server: VitstreamServer;
  let control: ClusterStreamControl;
  // Feeds the KV watch reported, in order, and who waits for the next.
  const changes: { type: string; id: string }[] = [];
  const waiters: (() => void)[] = [];
  const change = (type: string, id: string) =>
    new Promise<void>((resolve) => {
      const check = () =>
        changes.some((c) => c.type === type && c.id === id) ? resolve() : waiters.push(check);
      check();
    });

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await nats.connect();
    server = await createServer({ port: 0, token: TOKEN, heartbeatMs: 0, statsIntervalMs: 60_000 });
    control = await createClusterStreamControl(nc, {
      maxStreams: 4,
      onChange: (c) => {
        changes.push(c);
        for (const w of waiters.splice(0)) w();
      },
    });
    server.setStreamController(control);
  });
  afterAll(async () => {
    control?.stop();
    await server?.close();
    await nc?.close();
    await nats?.stop();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}${path.replace(/^\//, '')}`, {
      method,
      headers: {
        Authorization: `Bearer ${TOKEN}`,
        ...(body !== undefined && { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as Msg };
  };
  const storedIds = async () => (await listFeeds(nc)).map((f) => f.def.id);

  it('POST /streams defines a feed in KV and GET /streams shows it; the same id again is 409', async () => {
    const added = await call('POST', '/streams', { id: 'cam-a', url: 'rtsp://10.0.0.5/live', fps: 2 });
    expect(added.status).toBe(201);
    expect(added.body.stream).toMatchObject({ id: 'cam-a', input: 'rtsp://10.0.0.5/live', kind: 'url' });
    const [stored] = (await listFeeds(nc)).filter((f) => f.def.id === 'cam-a');
    expect(stored?.def).toMatchObject({ url: 'rtsp://10.0.0.5/live', sample: { fps: 2 } });
    await change('added', 'cam-a');
    const listed = await call('GET', '/streams');
    expect(listed.body.streams.map((s: { id: string }) => s.id)).toContain('cam-a');

    const again = await call('POST', '/streams', { id: 'cam-a', url: 'rtsp://10.0.0.6/other' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/cam-a.*already exists/);
    // The first definition stands.
    expect((await listFeeds(nc)).find((f) => f.def.id === 'cam-a')?.def.url).toBe('rtsp://10.0.0.5/live');
  });

  it('a bad id, a bad source or a field a cluster feed cannot honour is 400 naming it; nothing is stored', async () => {
    const badId = await call('POST', '/streams', { id: 'cam.1', url: 'rtsp://10.0.0.5/live' });
    expect(badId.status).toBe(400);
    expect(badId.body.error).toMatch(/^id: .*"cam\.1"/);
    const badScheme = await call('POST', '/streams', { id: 'cam-b', url: 'file:///etc/passwd' });
    expect(badScheme.status).toBe(400);
    expect(badScheme.body.error).toMatch(/url "file:\/\/\/etc\/passwd"/);
    // Past the API's URL check (the URL parser drops the newline) but not addFeed's own.
    const twoLines = await call('POST', '/streams', { id: 'cam-b', url: 'rtsp://10.0.0.5/a\nb' });
    expect(twoLines.status).toBe(400);
    expect(twoLines.body.error).toMatch(/^feed cam-b: the source must be one line/);
    const path = await call('POST', '/streams', { id: 'cam-b', path: '/etc/passwd' });
    expect(path.status).toBe(400);
    expect(path.body.error).toMatch(/^path: /);
    const unsupported = await call('POST', '/streams', {
      id: 'cam-b',
      url: 'rtsp://10.0.0.5/live',
      policy: 'block',
      realtime: true,
    });
    expect(unsupported.status).toBe(400);
    expect(unsupported.body.error).toMatch(/^realtime, policy: not available for cluster feeds/);
    const unknown = await call('POST', '/streams', { id: 'cam-b', url: 'rtsp://10.0.0.5/live', colour: 1 });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatch(/colour/);
    expect(await storedIds()).not.toContain('cam-b');
  });

  it('without an id, the feed is named after its URL in feed-id characters', async () => {
    const added = await call('POST', '/streams', { url: 'rtsp://user:pw@10.0.0.12:554/live?token=x' });
    expect(added.status).toBe(201);
    expect(added.body.stream).toMatchObject({ id: '10_0_0_12_554_live' });
    expect(added.body.stream.input).not.toMatch(/pw/);
    expect((await call('DELETE', '/streams/10_0_0_12_554_live')).status).toBe(200);
  });

  it('DELETE /streams/:id deletes the feed from KV; a missing one is 404', async () => {
    expect((await call('POST', '/streams', { id: 'cam-c', url: 'http://10.0.0.7/mjpeg' })).status).toBe(201);
    const removed = await call('DELETE', '/streams/cam-c');
    expect(removed.status).toBe(200);
    expect(await storedIds()).not.toContain('cam-c');
    await change('removed', 'cam-c');
    expect((await call('GET', '/streams')).body.streams.map((s: { id: string }) => s.id)).not.toContain(
      'cam-c',
    );
    const missing = await call('DELETE', '/streams/cam-c');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/cam-c/);
  });

  it('a feed defined elsewhere (feeds add) shows in GET /streams once the watch delivers it', async () => {
    await addFeed(nc, { id: 'cam-d', url: 'rtsp://10.0.0.8/live', sample: { every: 3 } });
    await change('added', 'cam-d');
    const got = await call('GET', '/streams/cam-d');
    expect(got.status).toBe(200);
    expect(got.body.stream).toMatchObject({
      id: 'cam-d',
      input: 'rtsp://10.0.0.8/live',
      sample: { every: 3 },
    });
  });

  it('two serving nodes adding one id at once: one defines it, the other is refused (409)', async () => {
    // A second node's controller on the same cluster: its view cannot know of the first's add.
    const other = await createClusterStreamControl(nc, { maxStreams: 4 });
    try {
      const results = await Promise.allSettled([
        control.add({ id: 'cam-race', url: 'rtsp://10.0.0.7/a' }),
        other.add({ id: 'cam-race', url: 'rtsp://10.0.0.8/b' }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]!.reason).toBeInstanceOf(StreamConflictError);
      // KV holds the winner's definition.
      const winner = results[0]!.status === 'fulfilled' ? 'rtsp://10.0.0.7/a' : 'rtsp://10.0.0.8/b';
      expect((await listFeeds(nc)).find((f) => f.def.id === 'cam-race')?.def.url).toBe(winner);
      await control.remove('cam-race');
    } finally {
      other.stop();
    }
  });

  it('WebSocket add-stream and remove-stream define and delete feeds; past the limit it is 429', async () => {
    const ws = await TestClient.connect(server.wsUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
    try {
      const reply = () => ws.next((m) => /^(stream-added|stream-removed|error)$/.test(m.type));
      let next = reply();
      ws.send({ type: 'add-stream', id: 'cam-e', url: 'rtsp://10.0.0.9/live' });
      const added = await next;
      expect(added).toMatchObject({ type: 'stream-added', stream: { id: 'cam-e' } });
      expect(await storedIds()).toContain('cam-e');
      // cam-a, cam-d and cam-e stored; the limit is 4.
      next = reply();
      ws.send({ type: 'add-stream', id: 'cam-f', url: 'rtsp://10.0.0.10/live' });
      expect(await next).toMatchObject({ type: 'stream-added' });
      const over = await call('POST', '/streams', { id: 'cam-g', url: 'rtsp://10.0.0.11/live' });
      expect(over.status).toBe(429);
      next = reply();
      ws.send({ type: 'remove-stream', id: 'cam-e' });
      expect(await next).toMatchObject({
        type: 'stream-removed',
        id: 'cam-e',
      });
      expect(await storedIds()).not.toContain('cam-e');
    } finally {
      await ws.close();
    }
  });
});
