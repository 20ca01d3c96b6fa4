import http from 'node:http';
import net from 'node:net';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { LiveFeeds } from '../../pipelines/liveFeeds.js';
import { createStreamControl } from '../../pipelines/streamControl.js';
import { createServer, type ServerOptions, type VitstreamServer } from '../../src/server/index.js';
import type { ResolvedSource } from '../../src/video/source.js';
import { type Msg, TestClient, upgradeStatus } from './helpers.js';

// Issue #20: what a stranger who reaches the port (or a page in the operator's browser) can do with the defaults.
const TOKEN = 'security-test-token';
let server: VitstreamServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A registry that starts nothing: `added` counts what would have been an ffmpeg process. */
function fakeFeeds(): LiveFeeds & { added: number } {
  const running = new Map<string, ResolvedSource>();
  const feeds = {
    added: 0,
    batches: new Subject(),
    events: new Subject(),
    add(s: { id?: string; url?: string; path?: string }) {
      const input = (s.url ?? s.path)!;
      const r = { id: s.id ?? input, input, kind: s.url ? 'url' : 'file', live: true } as ResolvedSource;
      if (running.has(r.id)) throw new RangeError(`stream ${r.id} already exists`);
      running.set(r.id, r);
      feeds.added++;
      return r;
    },
    remove: (id: string) => running.delete(id),
    list: () => [...running.values()],
    has: (id: string) => running.has(id),
  };
  return feeds as unknown as LiveFeeds & { added: number };
}

async function start(options: ServerOptions = {}, maxStreams = 64) {
  server = await createServer({ port: 0, token: TOKEN, heartbeatMs: 0, statsIntervalMs: 60_000, ...options });
  const feeds = fakeFeeds();
  server.setStreamController(
    createStreamControl({
      feeds,
      maxStreams,
      describe: (s) => ({ id: s.id, input: s.input, kind: s.kind, live: s.live }),
      isShown: () => false,
      forget: () => {},
    }),
  );
  return { server, feeds };
}

interface Reply {
  status: number;
  body: string;
}

/** A raw request, so that Host, Origin and Content-Type are exactly what the test says. */
function request(
  method: string,
  path: string,
  o: { body?: string; headers?: Record<string, string>; token?: string | null } = {},
): Promise<Reply> {
  const { port } = server!;
  const headers: Record<string, string> = {
    Host: `127.0.0.1:${port}`,
    ...(o.token !== null && { Authorization: `Bearer ${o.token ?? TOKEN}` }),
    ...(o.body !== undefined && { 'Content-Type': 'application/json' }),
    ...o.headers,
  };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const post = (body: unknown, headers?: Record<string, string>) =>
  request('POST', '/streams', { body: typeof body === 'string' ? body : JSON.stringify(body), headers });

async function wsClient(): Promise<TestClient> {
  return TestClient.connect(`${server!.wsUrl}?token=${TOKEN}`);
}

/** Sends a control message and waits for its answer (the next error or stream-* reply). */
async function control(c: TestClient, message: unknown): Promise<Msg> {
  const reply = c.next((m) => m.type === 'error' || m.type.startsWith('stream-'));
  c.send(message);
  return reply;
}

async function metric(name: string, reason: string): Promise<number> {
  const text = await (await fetch(`${server!.url}metrics?token=${TOKEN}`)).text();
  const m = new RegExp(`^${name}\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('foreign pages (issue #20.2)', () => {
  it('refuses a WebSocket from a foreign Origin with the default settings, and takes its own', async () => {
    await start();
    const url = `${server!.wsUrl}?token=${TOKEN}`;
    expect(await upgradeStatus(url, { headers: { Origin: 'https://evil.example' } })).toBe(403);
    expect(await upgradeStatus(url, { headers: { Origin: `http://127.0.0.1:${server!.port}` } })).toBe(101);
    expect(await upgradeStatus(url)).toBe(101);
  });

  it('takes the origins of --allowed-origin instead', async () => {
    await start({ allowedOrigins: ['https://dash.example.com'] });
    const url = `${server!.wsUrl}?token=${TOKEN}`;
    expect(await upgradeStatus(url, { headers: { Origin: 'https://dash.example.com' } })).toBe(101);
    expect(await upgradeStatus(url, { headers: { Origin: 'https://evil.example' } })).toBe(403);
  });

  it('refuses a text/plain POST (a cross-site simple request) and one from a foreign Origin', async () => {
    const { feeds } = await start();
    const body = JSON.stringify({ id: 'x', url: 'rtsp://cam/x' });
    const plain = await post(body, { 'Content-Type': 'text/plain' });
    expect(plain.status).toBe(415);
    expect(plain.body).toMatch(/application\/json/);
    expect((await post(body, { 'Content-Type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await post(body, { Origin: 'https://evil.example' })).status).toBe(403);
    expect(
      (await request('DELETE', '/streams/x', { headers: { Origin: 'https://evil.example' } })).status,
    ).toBe(403);
    expect(feeds.added).toBe(0);
    expect((await post(body)).status).toBe(201);
    expect(await metric('vitstream_refused_total', 'content-type')).toBe(2);
  });

  it('refuses a request for another host name (DNS rebinding), over HTTP and WebSocket', async () => {
    await start();
    for (const path of ['/', '/streams', '/healthz', '/metrics'])
      expect((await request('GET', path, { headers: { Host: `evil.example:${server!.port}` } })).status).toBe(
        403,
      );
    expect(
      (await request('GET', '/streams', { headers: { Host: `localhost:${server!.port}` } })).status,
    ).toBe(200);
    expect(
      await upgradeStatus(`${server!.wsUrl}?token=${TOKEN}`, {
        headers: { Host: `evil.example:${server!.port}` },
      }),
    ).toBe(403);
  });

  it('answers the names of --allowed-host', async () => {
    await start({ allowedHosts: ['cams.lan'] });
    expect((await request('GET', '/streams', { headers: { Host: `cams.lan:${server!.port}` } })).status).toBe(
      200,
    );
  });
});

describe('/healthz (issue #20.3)', () => {
  it('answers without a token and shows counts, never ids', async () => {
    await start();
    expect((await post({ id: 'cam-secret-name', url: 'rtsp://admin:campass@10.0.0.1/live' })).status).toBe(
      201,
    );
    server!.hub.setStreams(['cam-secret-name']);
    const res = await request('GET', '/healthz', { token: null });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'ok', streams: 1, clients: 0 });
    expect(res.body).not.toMatch(/cam-secret-name|campass|10\.0\.0\.1/);
  });
});

describe('credentials in URLs (issue #20.3)', () => {
  it('are redacted in /streams, ids derived from URLs and events', async () => {
    await start();
    const c = await wsClient();
    await c.subscribe(['*']);
    const added = await post({ url: 'rtsp://admin:campass@10.0.0.1:554/live' });
    expect(added.status).toBe(201);
    const stream = JSON.parse(added.body).stream;
    expect(stream.input).toBe('rtsp://admin:***@10.0.0.1:554/live');
    expect(stream.id).not.toMatch(/campass/);
    const list = await request('GET', '/streams');
    expect(list.body).not.toMatch(/campass/);
    expect(list.body).toMatch(/admin:\*\*\*@10\.0\.0\.1/);
    server!.hub.publishEvent({
      kind: 'source-error',
      streamId: stream.id,
      message: 'rtsp://admin:campass@10.0.0.1:554/live: Connection refused',
    });
    const ev = await c.waitFor((m) => m.type === 'event');
    expect(ev.message).toBe('rtsp://admin:***@10.0.0.1:554/live: Connection refused');
    await c.close();
  });
});

describe('limits (issue #20.4)', () => {
  it('caps 1000 concurrent POSTs at --max-streams with 429, starting no more than the cap', async () => {
    const { feeds } = await start({}, 8);
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => post({ id: `cam${i}`, url: `rtsp://cam${i}/live` })),
    );
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(8);
    expect(statuses.filter((s) => s === 429)).toHaveLength(992);
    expect(feeds.added).toBe(8);
    expect(JSON.parse(replies.find((r) => r.status === 429)!.body).error).toMatch(/at most 8 streams/);
    expect(await metric('vitstream_refused_total', 'stream-limit')).toBe(992);
  });

  it('refuses a 60 000-character id on every path, saying so in a short line', async () => {
    const { feeds } = await start();
    const id = 'x'.repeat(60_000);
    const added = await post({ id, url: 'rtsp://cam/live' });
    expect(added.status).toBe(400);
    expect(added.body.length).toBeLessThan(1000);
    for (const method of ['GET', 'DELETE']) {
      const r = await request(method, `/streams/${'y'.repeat(5000)}`);
      expect(r.status).toBe(400);
      expect(r.body.length).toBeLessThan(1000);
    }
    expect((await request('GET', '/streams/bad%20id')).status).toBe(400);
    const c = await wsClient();
    for (const message of [
      { type: 'add-stream', id: 'z'.repeat(60_000).slice(0, 60_000), url: 'rtsp://cam/live' },
      { type: 'remove-stream', id: 'z'.repeat(20_000) },
      { type: 'subscribe', streams: ['z'.repeat(20_000)] },
    ]) {
      const reply = c.next((m) => m.type === 'error');
      c.send(message);
      const error = await reply;
      expect(error.status).toBe(400);
      expect(JSON.stringify(error).length).toBeLessThan(1000);
    }
    expect(feeds.added).toBe(0);
    await c.close();
  });

  it('refuses subscriptions past the per-client total, however they are split into messages', async () => {
    await start({ maxSubscriptions: 1000 });
    const c = await wsClient();
    let reply: Msg = {};
    let sent = 0;
    // 100 000 ids in messages of 250 (each under the per-message limit): the total is what counts.
    for (let m = 0; m < 400; m++) {
      const ids = Array.from({ length: 250 }, (_, i) => `s${m * 250 + i}`);
      reply = await (async () => {
        const next = c.next((x) => x.type === 'subscribed' || x.type === 'error');
        c.send({ type: 'subscribe', streams: ids });
        return next;
      })();
      sent++;
      if (reply.type === 'error') break;
      // the reply says what changed and how many: never the whole list
      expect(reply.streams).toBeUndefined();
      expect(reply.count).toBe(sent * 250);
    }
    expect(reply).toMatchObject({ type: 'error', status: 429 });
    expect(reply.message).toMatch(/limit of 1000 per client/);
    expect(sent).toBe(5);
    expect(server!.hub.clients()[0]!.subscriptions).toHaveLength(1000);
    expect(await metric('vitstream_refused_total', 'subscriptions')).toBe(1);
    await c.close();
  });

  it('closes a POST whose body trickles in, within the configured time', async () => {
    await start({ bodyTimeoutMs: 300 });
    const socket = net.connect(server!.port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (d) => received.push(d));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const body = JSON.stringify({ id: 'slow', url: 'rtsp://cam/x' });
    socket.write(
      `POST /streams HTTP/1.1\r\nHost: 127.0.0.1:${server!.port}\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    // One byte whenever the server has read the last one, until it closes: it must not wait for the rest.
    let sent = 0;
    const drip = setInterval(() => {
      if (!socket.destroyed && sent < body.length - 1) socket.write(body[sent++]!);
    }, 50);
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    clearInterval(drip);
    expect(Buffer.concat(received).toString()).toMatch(/^HTTP\/1\.1 408/);
    expect(sent).toBeLessThan(body.length - 1);
    expect(await metric('vitstream_refused_total', 'body-timeout')).toBe(1);
  });
});

/** The file-read forms of issue #20.1: a demuxer choice, a glob over /, a text file as video, stdin. */
const FILE_READS: Record<string, unknown>[] = [
  { id: 'leak', path: '/etc/shadow', format: 'concat' },
  { id: 'glob', path: '/*/*.png' },
  { id: 'tty', path: '/etc/passwd', format: 'tty' },
  { id: 'stdin', path: '-' },
  { id: 'pipe', url: 'pipe:' },
  { id: 'pipe0', path: 'pipe:0' },
  { id: 'dev', url: '/dev/video0' },
  { id: 'file', url: 'file:///etc/passwd' },
  { id: 'opts', url: 'rtsp://cam/x', inputOptions: ['-f', 'concat'] },
];

describe('sources offered over the API (issue #20.1)', () => {
  it('refuses the file-read forms over HTTP and WebSocket, never saying whether a path exists', async () => {
    const { feeds } = await start();
    const c = await wsClient();
    for (const body of FILE_READS) {
      const http = await post(body);
      expect(http.status, JSON.stringify(body)).toBe(400);
      expect(http.body).not.toMatch(/no such file|does not exist|ENOENT|root:/i);
      const ws = await control(c, { type: 'add-stream', ...body });
      expect(ws, JSON.stringify(body)).toMatchObject({ type: 'error', status: 400 });
    }
    // A path that exists and one that does not get the same answer.
    const a = await post({ id: 'a', path: '/etc/passwd' });
    const b = await post({ id: 'b', path: '/no/such/file' });
    expect(JSON.parse(a.body).error.replace('/etc/passwd', 'P')).toBe(
      JSON.parse(b.body).error.replace('/no/such/file', 'P'),
    );
    expect(feeds.added).toBe(0);
    await c.close();
  });
});

describe('fuzz: hostile stream requests (issue #20)', () => {
  it('answers 300 random bodies and ids with a status, stays up, and starts nothing refused', async () => {
    const { feeds } = await start({}, 1000);
    // A small deterministic generator: the same run every time, so a failure can be replayed.
    let seed = 20;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const strings = [
      '',
      '-',
      'pipe:',
      '/etc/shadow',
      '../../etc/passwd',
      'x'.repeat(70_000),
      '\u0000',
      '\ud800',
      'rtsp://',
      'concat:/etc/passwd|/etc/shadow',
      'file:/etc/passwd',
      'http://a:b@c/d',
      '%2e%2e%2f',
      '*',
    ];
    const values = (): unknown =>
      pick<() => unknown>([
        () => pick(strings),
        () => Math.floor(rnd() * 2 ** 40) * (rnd() < 0.5 ? -1 : 1),
        () => rnd() < 0.5,
        () => null,
        () => [pick(strings), 1, {}],
        () => ({ nested: { deep: pick(strings) } }),
      ])();
    const keys = [
      'id',
      'url',
      'path',
      'format',
      'loop',
      'every',
      'fps',
      'policy',
      '__proto__',
      'constructor',
      'inputOptions',
    ];
    const bodies = (): string =>
      pick<() => string>([
        () =>
          JSON.stringify(
            Object.fromEntries(
              Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => [pick(keys), values()]),
            ),
          ),
        () => JSON.stringify({ id: pick(strings), url: `rtsp://cam/${Math.floor(rnd() * 1e6)}` }),
        () => JSON.stringify({ id: `f${Math.floor(rnd() * 1e6)}`, [pick(['path', 'url'])]: pick(strings) }),
        () => JSON.stringify(values()),
        () => '{"id": "a", "url": ',
        () => '[]'.repeat(10),
        () => `{"__proto__": {"polluted": true}, "url": "rtsp://cam/p${Math.floor(rnd() * 1e6)}"}`,
      ])();
    // A lone surrogate cannot be URL-encoded: send broken percent-encoding in its place.
    const pathOf = (id: string) => {
      try {
        return encodeURIComponent(id).slice(0, 4000);
      } catch {
        return '%ZZ%D8';
      }
    };
    const c = await wsClient();
    let ok = 0;
    for (let i = 0; i < 300; i++) {
      const body = bodies();
      const r = i % 3 === 2 ? await request('DELETE', `/streams/${pathOf(pick(strings))}`) : await post(body);
      expect([200, 201, 400, 404, 405, 409, 413, 429]).toContain(r.status);
      if (r.status === 201) ok++;
      // Every tenth body also over WebSocket (those over maxPayload would close the socket: tested elsewhere).
      if (i % 10 === 0 && body.length < 60_000) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          parsed = body;
        }
        const m =
          typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
            ? parsed
            : { value: parsed };
        const reply = await control(c, { ...m, type: 'add-stream' });
        expect(['error', 'stream-added']).toContain(reply.type);
        if (reply.type === 'stream-added') ok++;
      }
    }
    // Only well-formed URL requests were started; the server still answers.
    expect(feeds.added).toBe(ok);
    for (const s of feeds.list()) expect(s.input).toMatch(/^rtsp:\/\//);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await request('GET', '/healthz', { token: null })).status).toBe(200);
    await c.close();
  });
});
