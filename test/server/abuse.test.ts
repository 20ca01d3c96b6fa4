import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createServer, type VitstreamServer } from '../../src/server/index.js';
import { prediction, TestClient, tick } from './helpers.js';

let server: VitstreamServer | undefined;
const clients: TestClient[] = [];
const sockets: net.Socket[] = [];

async function start(options: Parameters<typeof createServer>[0] = {}): Promise<VitstreamServer> {
  // No periodic stats: a timer-driven message would make exact message accounting racy.
  server = await createServer({ port: 0, statsProvider: () => undefined, ...options });
  return server;
}

async function client(): Promise<TestClient> {
  const c = await TestClient.connect(server!.wsUrl);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
  server = undefined;
});

/** Sends raw text and returns the server's error reply. */
async function errorFor(c: TestClient, text: string): Promise<string> {
  const reply = c.next((m) => m.type === 'error');
  c.send(text);
  return (await reply).message as string;
}

/** A client frame as RFC 6455 wants it: masked, FIN set, text opcode. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error('test frame too long');
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/**
 * A bare TCP client that completes the handshake, subscribes, and then never reads again:
 * the server sees a peer whose receive window is full, as with a stalled phone on a bad link.
 */
async function stalledRawClient(wsUrl: string, streams: string[]): Promise<net.Socket> {
  const url = new URL(wsUrl);
  const socket = net.connect(Number(url.port), url.hostname);
  sockets.push(socket);
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const head = await new Promise<string>((resolve) =>
    socket.once('data', (d) => resolve(d.toString('latin1'))),
  );
  expect(head).toMatch(/^HTTP\/1\.1 101 /);
  socket.pause();
  socket.write(maskedTextFrame(JSON.stringify({ type: 'subscribe', streams })));
  return socket;
}

describe('bad input from clients', () => {
  it('answers malformed JSON, non-objects, unknown types and wrong field types with an error', async () => {
    await start();
    const c = await client();
    expect(await errorFor(c, '{"type":"subscribe",')).toMatch(/malformed JSON/);
    expect(await errorFor(c, 'null')).toMatch(/JSON object/);
    expect(await errorFor(c, '[1,2]')).toMatch(/JSON object/);
    expect(await errorFor(c, '{"streams":["a"]}')).toMatch(/"type" must be a string/);
    expect(await errorFor(c, '{"type":"rm -rf"}')).toMatch(/unknown message type "rm -rf".*subscribe/);
    expect(await errorFor(c, '{"type":"subscribe","streams":"a"}')).toMatch(/^subscribe: streams:/);
    expect(await errorFor(c, '{"type":"subscribe","streams":[1]}')).toMatch(/^subscribe: streams\.0:/);
    expect(await errorFor(c, '{"type":"subscribe","streams":[]}')).toMatch(/^subscribe: streams:/);
    expect(await errorFor(c, JSON.stringify({ type: 'unsubscribe', streams: ['x'.repeat(200)] }))).toMatch(
      /^unsubscribe: streams\.0:/,
    );
    const binaryReply = c.next((m) => m.type === 'error');
    c.ws.send(Buffer.from([1, 2, 3]));
    expect((await binaryReply).message).toMatch(/binary/);

    // Still a working connection.
    expect(await c.subscribe(['a'])).toMatchObject({ added: ['a'], count: 1 });
    const pong = c.next((m) => m.type === 'pong');
    c.send({ type: 'ping', id: 7 });
    expect(await pong).toEqual({ type: 'pong', id: 7 });
  });

  it('closes with 1009 on a message over maxPayload and keeps serving others', async () => {
    await start({ maxPayload: 1024 });
    const [big, other] = [await client(), await client()];
    await other.subscribe(['a']);
    big.send({ type: 'subscribe', streams: ['a'.repeat(100)], pad: 'x'.repeat(4096) });
    expect((await big.closed).code).toBe(1009);
    server!.hub.publish(prediction('a', 1));
    expect((await other.waitFor((m) => m.type === 'prediction')).frame).toBe(1);
  });

  it('closes with 1008 after too many bad messages', async () => {
    await start({ maxClientErrors: 3 });
    const c = await client();
    for (let i = 0; i < 3; i++) c.send('nope');
    expect((await c.closed).code).toBe(1008);
  });
});

describe('slow clients', () => {
  it('drop their own oldest messages, stay bounded, learn what they missed and never hold up others', async () => {
    const limits = { maxClientQueue: 50, maxClientQueueBytes: 512 * 1024, maxBufferedBytes: 256 * 1024 };
    await start(limits);
    const fast = [await client(), await client(), await client()];
    const paused = await client();
    for (const c of [...fast, paused]) await c.subscribe(['*']);
    const raw = await stalledRawClient(server!.wsUrl, ['*']);
    while (server!.hub.clients().filter((c) => c.subscriptions.length > 0).length < 5) await tick();
    (paused.ws as unknown as { _socket: net.Socket })._socket.pause();

    const label = 'x'.repeat(4000); // ~12 KB a message
    let published = 0;
    const publishSome = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) server!.hub.publish(prediction('cam', published++, label));
      await tick();
    };
    // Publish until both stalled clients overflow (kernel buffers absorb the first megabytes), then more.
    const overflowing = (): boolean => server!.hub.clients().filter((c) => c.missedTotal > 0).length >= 2;
    while (!overflowing()) {
      if (published > 20_000) throw new Error('stalled clients never overflowed');
      await publishSome(10);
    }
    for (let i = 0; i < 100; i++) await publishSome(10);

    const messageSize = JSON.stringify({ type: 'prediction', ...prediction('cam', published, label) }).length;
    const snapshots = server!.hub.clients();
    const stalled = snapshots.filter((c) => c.missedTotal > 0);
    expect(stalled).toHaveLength(2);
    for (const s of stalled) {
      expect(s.queued).toBeLessThanOrEqual(limits.maxClientQueue);
      expect(s.queuedBytes).toBeLessThanOrEqual(limits.maxClientQueueBytes);
      expect(s.bufferedAmount).toBeLessThanOrEqual(limits.maxBufferedBytes + messageSize);
    }

    // The fast clients got everything, in order, with nothing missed.
    const fenceSeen = fast.map((c) => c.next((m) => m.type === 'event' && m.kind === 'fence'));
    server!.hub.publishEvent({ kind: 'fence', message: 'end' });
    await Promise.all(fenceSeen);
    const all = Array.from({ length: published }, (_, i) => i);
    for (const c of fast) {
      expect(c.ofType('prediction').map((m) => m.frame)).toEqual(all);
      expect(c.ofType('missed')).toEqual([]);
    }

    // Once it reads again, the paused client is told how many it missed and ends with the newest.
    const pausedFence = paused.next((m) => m.type === 'event' && m.kind === 'fence');
    (paused.ws as unknown as { _socket: net.Socket })._socket.resume();
    await pausedFence;
    const frames = paused.ofType('prediction').map((m) => m.frame as number);
    const missed = paused.ofType('missed').reduce((n, m) => n + (m.count as number), 0);
    expect(missed).toBeGreaterThan(0);
    expect(frames.length + missed).toBe(published);
    expect(frames.at(-1)).toBe(published - 1);
    expect(frames.every((f, i) => i === 0 || f > frames[i - 1]!)).toBe(true);

    const droppedTotal = server!.hub.clients().reduce((n, c) => n + c.missedTotal, 0);
    const text = await (await fetch(`${server!.url}metrics`)).text();
    expect(text).toContain(`vitstream_ws_messages_dropped_total ${droppedTotal}\n`);
    raw.destroy();
  });

  it('a heartbeat drops a client that stops answering pings, and keeps one that answers', async () => {
    // 1 s, not less: the live client must answer a ping within one interval, which a busy machine
    // (the suite beside other work) did not always do at 40 ms.
    await start({ heartbeatMs: 1000 });
    const live = await client();
    const deadWs = new WebSocket(server!.wsUrl, { autoPong: false });
    const dead = await new Promise<{ code: number }>((resolve, reject) => {
      deadWs.on('error', () => {});
      deadWs.on('close', (code) => resolve({ code }));
      deadWs.on('unexpected-response', () => reject(new Error('upgrade refused')));
    });
    expect(dead.code).toBe(1006); // terminated, no closing handshake
    expect(live.ws.readyState).toBe(WebSocket.OPEN);
    await live.subscribe(['a']);
    server!.hub.publish(prediction('a', 3));
    expect((await live.waitFor((m) => m.type === 'prediction')).frame).toBe(3);
    expect(server!.hub.clientCount).toBe(1);
  });
});
