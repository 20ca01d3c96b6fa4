import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type VitstreamServer } from '../../src/server/index.js';
import { type Msg, prediction, TestClient } from './helpers.js';

let server: VitstreamServer | undefined;
const clients: TestClient[] = [];

async function start(options: Parameters<typeof createServer>[0] = {}): Promise<VitstreamServer> {
  // No periodic stats unless a test asks: timer-driven messages would make message counts racy.
  server = await createServer({ port: 0, statsProvider: () => undefined, ...options });
  return server;
}

async function client(): Promise<TestClient> {
  const c = await TestClient.connect(server!.wsUrl);
  clients.push(c);
  return c;
}

/** Every message sent before this point has reached `cs` once each sees the fence event. */
async function fence(cs: TestClient[], tag: string): Promise<void> {
  const seen = cs.map((c) => c.next((m) => m.type === 'event' && m.kind === 'fence' && m.message === tag));
  server!.hub.publishEvent({ kind: 'fence', message: tag });
  await Promise.all(seen);
}

const frames = (c: TestClient): string[] => c.ofType('prediction').map((m) => `${m.streamId}${m.frame}`);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
  server = undefined;
});

describe('hub', () => {
  it('greets with the package version and declared streams', async () => {
    const s = await start();
    s.hub.setStreams(['cam2', 'cam1']);
    const c = await client();
    const hello = c.messages[0]!;
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(hello).toEqual({
      type: 'hello',
      version: pkg.version,
      streams: ['cam1', 'cam2'],
      heartbeatMs: 30_000,
    });
  });

  it('delivers only the subscribed streams; * gets all', async () => {
    await start();
    const [a, all, b, none] = [await client(), await client(), await client(), await client()];
    expect(await a.subscribe(['a'])).toMatchObject({ added: ['a'], count: 1, all: false });
    await all.subscribe(['*']);
    await b.subscribe(['b']);

    const { hub } = server!;
    for (const p of [
      prediction('a', 1),
      prediction('b', 1),
      prediction('c', 1),
      prediction('a', 2),
      prediction('b', 2),
    ]) {
      hub.publish(p);
    }
    await fence([a, all, b, none], 'one');
    expect(frames(a)).toEqual(['a1', 'a2']);
    expect(frames(b)).toEqual(['b1', 'b2']);
    expect(frames(all)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2']);
    expect(frames(none)).toEqual([]);

    // The message carries the prediction as published.
    const got = all.ofType('prediction')[0]!;
    const { type, receivedAt, ...rest } = got;
    expect(type).toBe('prediction');
    expect(rest).toEqual(prediction('a', 1));
    // The arrival time also travels as ISO 8601, the same instant as receivedAtMs.
    expect(Date.parse(receivedAt)).toBe(prediction('a', 1).receivedAtMs);
    expect(receivedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('unsubscribe stops delivery and subscribe adds to the set', async () => {
    await start();
    const c = await client();
    await c.subscribe(['a', 'b']);
    expect(await c.unsubscribe(['a'])).toMatchObject({ removed: ['a'], count: 1 });
    expect(await c.subscribe(['c', 'b'])).toMatchObject({ added: ['c'], count: 2 });
    server!.hub.publish(prediction('a', 1));
    server!.hub.publish(prediction('b', 2));
    server!.hub.publish(prediction('c', 3));
    await fence([c], 'x');
    expect(frames(c)).toEqual(['b2', 'c3']);

    await c.unsubscribe(['b', 'c']);
    server!.hub.publish(prediction('b', 4));
    await fence([c], 'y');
    expect(frames(c)).toEqual(['b2', 'c3']);
  });

  it('filters stats by subscription and sends engine figures to all', async () => {
    await start();
    const [a, all, none] = [await client(), await client(), await client()];
    await a.subscribe(['a']);
    await all.subscribe(['*']);
    server!.hub.publishStats({
      streams: {
        a: { fpsIn: 25, fpsClassified: 5, latencyMs: 40, dropped: 0 },
        b: { fpsIn: 30, dropped: 3 },
      },
      engine: { utilization: 0.5 },
    });
    await fence([a, all, none], 's');
    const sa = a.ofType('stats');
    const sall = all.ofType('stats');
    expect(sa).toHaveLength(1);
    expect(sa[0]!.streams).toEqual({ a: { fpsIn: 25, fpsClassified: 5, latencyMs: 40, dropped: 0 } });
    expect(sa[0]!.engine).toEqual({ utilization: 0.5 });
    expect(Object.keys(sall[0]!.streams).sort()).toEqual(['a', 'b']);
    expect(none.ofType('stats')).toEqual([]);
  });

  it('polls a stats provider', async () => {
    let calls = 0;
    await start({ statsIntervalMs: 20, statsProvider: () => ({ streams: { a: { fpsIn: ++calls } } }) });
    const c = await client();
    await c.subscribe(['a']);
    const first = await c.next((m) => m.type === 'stats');
    const second = await c.next((m) => m.type === 'stats');
    expect(second.streams.a.fpsIn).toBeGreaterThan(first.streams.a.fpsIn);
  });

  it('publishes the pipeline stats by default, with the predictions counted as classified', async () => {
    const s = await start({ statsIntervalMs: 20, statsProvider: undefined });
    const c = await client();
    await c.subscribe(['cam']);
    s.stats.setState('cam', 'live');
    s.stats.frameIn('cam', 10);
    const p = prediction('cam', 1);
    s.stats.classified(p);
    s.hub.publish(p);
    s.stats.sourceEvent({
      type: 'reconnecting',
      streamId: 'cam',
      atMs: Date.now(),
      attempt: 1,
      delayMs: 500,
    });
    const ev = await c.waitFor((m) => m.type === 'event');
    expect(ev).toMatchObject({ kind: 'reconnecting', streamId: 'cam', level: 'warn' });
    const stats = await c.next((m) => m.type === 'stats');
    expect(stats.streams.cam).toMatchObject({
      state: 'reconnecting',
      framesIn: 10,
      classified: 1,
      dropped: 0,
    });
    expect(stats.engine).toMatchObject({ utilization: 0 });
  });

  it('survives a stats provider that throws', async () => {
    let calls = 0;
    await start({
      statsIntervalMs: 10,
      statsProvider: () => {
        if (++calls % 2 === 1) throw new Error('boom');
        return { streams: { a: { fpsIn: calls } } };
      },
    });
    const c = await client();
    await c.subscribe(['a']);
    await c.next((m) => m.type === 'stats');
    expect(calls).toBeGreaterThan(1);
  });

  it('routes stream events to subscribers and global events to everyone', async () => {
    await start();
    const [a, b] = [await client(), await client()];
    await a.subscribe(['a']);
    await b.subscribe(['b']);
    server!.hub.publishEvent({ kind: 'reconnecting', message: 'source lost', streamId: 'a', level: 'warn' });
    await fence([a, b], 'e');
    const ev = a.ofType('event').find((m) => m.kind === 'reconnecting')!;
    expect(ev).toMatchObject({
      type: 'event',
      kind: 'reconnecting',
      streamId: 'a',
      level: 'warn',
      message: 'source lost',
    });
    expect(typeof ev.atMs).toBe('number');
    expect(b.ofType('event').filter((m) => m.kind === 'reconnecting')).toEqual([]);
  });

  it('replays recent events to a client that subscribes later, each once, and forgets a removed stream', async () => {
    await start();
    server!.hub.publishEvent({
      kind: 'source-error',
      message: 'connection refused',
      streamId: 'cam',
      level: 'error',
    });
    server!.hub.publishEvent({
      kind: 'source-error',
      message: 'no such file',
      streamId: 'gone',
      level: 'error',
    });
    server!.hub.publishEvent({ kind: 'notice', message: 'for everyone' });
    server!.hub.removeStream('gone');
    const early = await client(); // connected before the next global event: it gets that one live
    server!.hub.publishEvent({ kind: 'notice', message: 'after early' });
    await early.next((m) => m.type === 'event' && m.message === 'after early');
    await early.subscribe(['cam']);
    await early.subscribe(['*']);
    const late = await client();
    await late.subscribe(['*']);
    await fence([early, late], 'f');
    const events = (c: TestClient) =>
      c
        .ofType('event')
        .filter((m) => m.kind !== 'fence')
        .map((m) => `${m.message}${m.replayed ? ' (replayed)' : ''}`);
    expect(events(early)).toEqual([
      'after early',
      'connection refused (replayed)',
      'for everyone (replayed)',
    ]);
    expect(events(late)).toEqual([
      'connection refused (replayed)',
      'for everyone (replayed)',
      'after early (replayed)',
    ]);
  });

  it('announces new streams', async () => {
    await start();
    const c = await client();
    const announced = c.next((m) => m.type === 'streams');
    server!.hub.publish(prediction('new-cam', 1));
    expect((await announced).streams).toEqual(['new-cam']);
    expect(server!.hub.streams).toEqual(['new-cam']);
  });

  it('attaches a PNG thumbnail at most at the configured rate, and only with subscribers', async () => {
    // A rate this low means one thumbnail for the whole test, however slow the machine.
    await start({ thumbnail: { size: 16, fps: 0.001 } });
    const rgb = new Uint8Array(32 * 32 * 3).fill(200);
    expect(server!.hub.wantsThumbnail('a')).toBe(false); // nobody listens yet
    const c = await client();
    await c.subscribe(['a']);
    expect(server!.hub.wantsThumbnail('a')).toBe(true);
    server!.hub.publish(prediction('a', 1), { thumbnail: { rgb, width: 32, height: 32 } });
    server!.hub.publish(prediction('a', 2), { thumbnail: { rgb, width: 32, height: 32 } });
    await fence([c], 't');
    const [p1, p2] = c.ofType('prediction') as [Msg, Msg];
    expect(p1.thumbnail).toMatch(/^data:image\/png;base64,/);
    const png = Buffer.from(p1.thumbnail.slice('data:image/png;base64,'.length), 'base64');
    expect(png.readUInt32BE(16)).toBe(16); // IHDR width
    expect(png.readUInt32BE(20)).toBe(16); // IHDR height
    expect(p2.thumbnail).toBeUndefined();
    expect(server!.hub.wantsThumbnail('a')).toBe(false);
  });

  it('skips a thumbnail whose pixels do not match its size instead of failing the publish', async () => {
    await start({ thumbnail: { fps: 0 } });
    const c = await client();
    await c.subscribe(['a']);
    server!.hub.publish(prediction('a', 1), {
      thumbnail: { rgb: new Uint8Array(10), width: 32, height: 32 },
    });
    const p = await c.waitFor((m) => m.type === 'prediction');
    expect(p.thumbnail).toBeUndefined();
  });

  it('serves 200 concurrent clients, every one receiving every message', async () => {
    await start();
    const n = 200;
    const all: TestClient[] = [];
    for (let i = 0; i < n; i += 50) {
      all.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => client()))));
    }
    await Promise.all(all.map((c, i) => c.subscribe([i % 2 === 0 ? '*' : 'even'])));
    expect(server!.hub.clientCount).toBe(n);
    const count = 50;
    for (let f = 0; f < count; f++) server!.hub.publish(prediction(f % 2 === 0 ? 'even' : 'odd', f));
    await fence(all, 'done');
    for (const [i, c] of all.entries()) {
      const got = c.ofType('prediction').map((m) => m.frame);
      const expected = Array.from({ length: count }, (_, f) => f).filter((f) => i % 2 === 0 || f % 2 === 0);
      expect(got).toEqual(expected);
      expect(c.ofType('missed')).toEqual([]);
    }
  });
});
