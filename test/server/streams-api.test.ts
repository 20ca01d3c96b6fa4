import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardPipeline, runDashboardPipeline } from '../../pipelines/dashboard.js';
import { type ApiSourceCheck, networkUrlsOnly } from '../../pipelines/streamControl.js';
import { openEngine } from '../../src/app/open-engine.js';
import type { Engine } from '../../src/engine/types.js';
import { SourceRefusedError } from '../../src/errors.js';
import { createServer, type VitstreamServer } from '../../src/server/server.js';
import { sharedPath } from '../helpers/shared.js';
import { ffmpegChildren, makeClip, TempDir, waitFor } from '../video/media.js';
import { type Msg, TestClient } from './helpers.js';

const TOKEN = 'streams-api-token';
const tmp = new TempDir();
let engine: Engine;
let server: VitstreamServer;
let pipeline: DashboardPipeline;
let clip: string;
let ws: TestClient;

/** Stands in for the source policy (src/server/source-policy.ts) with one media root: the temp folder. */
const underTmp: ApiSourceCheck = async (body) =>
  body.path?.startsWith(`${tmp.dir}/`) ? { input: body.path, kind: 'file' } : networkUrlsOnly(body);

/** A clip played as a live camera: at its own rate, looped. */
const live = (id: string) => ({ id, path: clip, realtime: true, loop: true });

async function call(method: string, path: string, body?: string | object, token: string | null = TOKEN) {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(new URL(path, server.url), {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Msg) : undefined };
}

const predictionsOf = (id: string) => ws.messages.filter((m) => m.type === 'prediction' && m.streamId === id);

beforeAll(async () => {
  clip = makeClip(tmp.file('cam.mp4'), { frames: 50, rate: 25 });
  const dir = sharedPath('models', 'vit-cifar10-demo');
  engine = await openEngine({
    model: `${dir}/config.json`,
    weights: `${dir}/model.safetensors`,
    backend: 'cpu',
    maxBatch: 4,
  });
  server = await createServer({ port: 0, token: TOKEN, heartbeatMs: 0, statsIntervalMs: 200 });
  pipeline = runDashboardPipeline({
    engine,
    server,
    feeds: [live('a')],
    maxBatch: 4,
    maxDelayMs: 20,
    noFrameTimeoutMs: 5000,
    checkSource: underTmp,
  });
  ws = await TestClient.connect(`${server.wsUrl}?token=${TOKEN}`);
  await ws.subscribe(['*']);
  expect(await waitFor(() => predictionsOf('a').length > 0, 20_000)).toBe(true);
});

afterAll(async () => {
  await ws?.close();
  pipeline?.stop();
  await server?.close();
  await engine?.close();
  tmp.dispose();
  expect(await waitFor(() => ffmpegChildren().length === 0, 5000)).toBe(true);
});

describe('stream control over HTTP', () => {
  it('needs the token, like the hub', async () => {
    expect((await call('GET', '/streams', undefined, null)).status).toBe(401);
    expect((await call('GET', '/streams', undefined, 'wrong-token-value')).status).toBe(401);
    const post = await call('POST', '/streams', live('sneaky'), null);
    expect(post.status).toBe(401);
    expect(post.body?.error).toMatch(/token/);
    expect((await call('DELETE', '/streams/a', undefined, null)).status).toBe(401);
    expect((await fetch(new URL(`/streams?token=${TOKEN}`, server.url))).status).toBe(200);
    expect(pipeline.streams().map((s) => s.id)).toEqual(['a']);
  });

  it('lists, adds and removes streams while the others keep running', async () => {
    const list = await call('GET', '/streams');
    expect(list.status).toBe(200);
    expect(list.body?.streams).toEqual([
      expect.objectContaining({ id: 'a', input: clip, kind: 'file', live: true }),
    ]);

    const added = await call('POST', '/streams', live('b'));
    expect(added.status).toBe(201);
    expect(added.body?.stream).toMatchObject({ id: 'b', input: clip, live: true });
    // clients learn of it and its predictions arrive, with both clocks
    await ws.waitFor((m) => m.type === 'streams' && m.streams.includes('b'));
    expect(await waitFor(() => predictionsOf('b').length >= 3, 20_000)).toBe(true);
    const p = predictionsOf('b')[0];
    expect(Date.parse(p.receivedAt)).toBe(p.receivedAtMs);
    expect(await waitFor(() => ffmpegChildren().length === 2, 5000)).toBe(true);
    expect((await call('GET', '/streams/b')).body?.stream.id).toBe('b');
    expect((await call('GET', '/streams')).body?.streams.map((s: Msg) => s.id)).toEqual(['a', 'b']);

    const removed = await call('DELETE', '/streams/b');
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ removed: 'b' });
    // its ffmpeg is gone, the list and the clients' stream list lose it
    expect(await waitFor(() => ffmpegChildren().length === 1, 5000)).toBe(true);
    expect((await call('GET', '/streams')).body?.streams.map((s: Msg) => s.id)).toEqual(['a']);
    const gone = await ws.waitFor(
      (m) => m.type === 'streams' && !m.streams.includes('b') && m.streams.includes('a'),
    );
    const after = ws.messages.indexOf(gone);
    // 'a' never paused: it keeps producing after the removal, and 'b' produces nothing more
    const aBefore = predictionsOf('a').length;
    expect(await waitFor(() => predictionsOf('a').length >= aBefore + 10, 10_000)).toBe(true);
    expect(ws.messages.slice(after).filter((m) => m.type === 'prediction' && m.streamId === 'b')).toEqual([]);
    // nothing labelled with the removed stream stays in /metrics
    const metrics = await (await fetch(new URL(`/metrics?token=${TOKEN}`, server.url))).text();
    expect(metrics).not.toContain('stream="b"');
    expect(metrics).toContain('vitstream_frames_in_total{stream="a"}');
    expect(metrics).toMatch(/^vitstream_batch_max_size 4$/m);
    expect(metrics).toMatch(/^vitstream_ffmpeg_processes 1$/m);
  });

  it('answers bad requests with 4xx and a message', async () => {
    const cases: Array<[string, string, string | object | undefined, number, RegExp]> = [
      ['POST', '/streams', live('a'), 409, /already exists/],
      ['POST', '/streams', '{"id": "x", "path": ', 400, /malformed JSON/],
      ['POST', '/streams', '', 400, /empty body/],
      ['POST', '/streams', '[1, 2]', 400, /JSON object/],
      ['POST', '/streams', { id: 'x' }, 400, /url or path/],
      ['POST', '/streams', { id: 'x', url: 'rtsp://h/s', path: clip }, 400, /url or path/],
      ['POST', '/streams', { id: 'x', path: clip, colour: 'red' }, 400, /colour/],
      ['POST', '/streams', { id: 'x', url: 'ftp://example.org/v.mp4' }, 400, /scheme/],
      ['POST', '/streams', { id: 'x', url: 'not a url' }, 400, /absolute URL/],
      ['POST', '/streams', { id: 'x', path: '/etc/passwd' }, 400, /local files are not accepted/],
      ['POST', '/streams', { id: 'x', path: clip, format: 'concat' }, 400, /format/],
      ['POST', '/streams', { id: 'bad id!', path: clip }, 400, /id/],
      ['POST', '/streams', { id: 'x', path: clip, fps: -1 }, 400, /fps/],
      ['GET', '/streams/nope', undefined, 404, /no stream with id "nope"/],
      ['DELETE', '/streams/nope', undefined, 404, /no stream with id "nope"/],
      ['DELETE', '/streams', undefined, 405, /GET or POST/],
      ['PUT', '/streams/a', {}, 405, /GET or DELETE/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const r = await call(method, path, body);
      expect({ method, path, body, status: r.status }).toEqual({ method, path, body, status });
      expect(r.body?.error).toMatch(message);
    }
    expect(pipeline.streams().map((s) => s.id)).toEqual(['a']);
  });
});

describe('removing a stream that ended on its own', () => {
  it('clears its card: DELETE answers as for a running stream, then 404', async () => {
    const added = await call('POST', '/streams', { id: 'once', path: clip });
    expect(added.status).toBe(201);
    // A file played once ends by itself and leaves the registry, but its card stays on the hub.
    expect(await waitFor(() => !pipeline.streams().some((s) => s.id === 'once'), 20_000)).toBe(true);
    expect(server.hub.streams).toContain('once');
    const removed = await call('DELETE', '/streams/once');
    expect(removed).toEqual({ status: 200, body: { removed: 'once' } });
    expect(server.hub.streams).not.toContain('once');
    await ws.waitFor((m) => m.type === 'streams' && !m.streams.includes('once'));
    expect((await call('DELETE', '/streams/once')).status).toBe(404);
  });
});

describe('stream control over WebSocket', () => {
  it('add-stream, list-streams and remove-stream, with the HTTP statuses on errors', async () => {
    const c = await TestClient.connect(`${server.wsUrl}?token=${TOKEN}`);
    try {
      const reply = (m: object, type: string) => {
        const r = c.next((x) => x.type === type || x.type === 'error');
        c.send(m);
        return r;
      };
      expect(await reply({ type: 'add-stream', ...live('w') }, 'stream-added')).toMatchObject({
        type: 'stream-added',
        stream: { id: 'w', live: true },
      });
      expect(await reply({ type: 'add-stream', ...live('w') }, 'stream-added')).toMatchObject({
        type: 'error',
        status: 409,
      });
      expect(await reply({ type: 'add-stream', id: 'v' }, 'stream-added')).toMatchObject({
        type: 'error',
        status: 400,
      });
      const list = await reply({ type: 'list-streams' }, 'stream-list');
      expect(list.streams.map((s: Msg) => s.id)).toEqual(['a', 'w']);
      expect(await waitFor(() => ffmpegChildren().length === 2, 5000)).toBe(true);
      expect(await reply({ type: 'remove-stream', id: 'nope' }, 'stream-removed')).toMatchObject({
        type: 'error',
        status: 404,
      });
      expect(await reply({ type: 'remove-stream' }, 'stream-removed')).toMatchObject({ type: 'error' });
      expect(await reply({ type: 'remove-stream', id: 'w' }, 'stream-removed')).toEqual({
        type: 'stream-removed',
        id: 'w',
      });
      expect(await waitFor(() => ffmpegChildren().length === 1, 5000)).toBe(true);
      expect(pipeline.streams().map((s) => s.id)).toEqual(['a']);
    } finally {
      await c.close();
    }
  });
});

describe('networkUrlsOnly (the stream API without a source policy)', () => {
  it('takes network URLs and refuses devices, local paths, stdin and pipes alike', async () => {
    expect(await networkUrlsOnly({ url: 'rtsp://cam/live' })).toEqual({
      input: 'rtsp://cam/live',
      kind: 'url',
    });
    for (const body of [
      { url: '/dev/video7' },
      { path: '/dev/video7' },
      { path: clip },
      { path: '-' },
      { url: 'pipe:' },
    ])
      await expect(networkUrlsOnly(body)).rejects.toThrow(SourceRefusedError);
  });
});
