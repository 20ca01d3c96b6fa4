import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  type CliProcess,
  childPids,
  cifarModel,
  ensureBuilt,
  isAlive,
  probeFrameTimes,
  runCli,
  startCli,
} from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';

// `vitstream serve` as a user runs it: a clip played as a live feed, a WebSocket client, /metrics,
// and the process's end (naturally with --exit-when-done, or on SIGTERM).

const model = cifarModel();
const labels = (JSON.parse(readFileSync(model.file('config.json'), 'utf8')) as { labels: string[] }).labels;
const SERVING = /serving \d+ feed\(s\) on (http:\/\/[^ ]+\/) \(dashboard\), (ws:\/\/[^ ]+) \(WebSocket\)/;
/** Printed when serve made its own token (no --token): the dashboard URL carrying it. */
const TOKEN_URL = /no --token given: open the dashboard at (http:\/\/\S+\/)\?token=([A-Za-z0-9_-]{20,})\n/;
const TOKEN = 'e2e-serve-token';
/**
 * How long serve may take to start (model load, batching measured on the engine): generous, since on a
 * busy machine (the suite beside other work) it took over the helper's default 30 s. Waits end on the
 * line itself, or at once if serve exits.
 */
const STARTUP_MS = 150_000;

interface Message {
  type: string;
  [k: string]: unknown;
}
interface PredictionMessage extends Message {
  streamId: string;
  frame: number;
  ptsMs: number;
  latencyMs: number;
  top: { index: number; label: string; score: number }[];
}

/** A client subscribed to every stream, keeping all it receives and how it was closed. */
function subscribeAll(wsUrl: string) {
  const ws = new WebSocket(wsUrl);
  const messages: Message[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as Message;
    messages.push(msg);
    if (msg.type === 'hello') ws.send(JSON.stringify({ type: 'subscribe', streams: ['*'] }));
  });
  const predictions = () => messages.filter((m): m is PredictionMessage => m.type === 'prediction');
  const stats = () => messages.filter((m) => m.type === 'stats');
  return { ws, messages, closed, predictions, stats };
}

async function until(what: string, cond: () => boolean, timeoutMs = STARTUP_MS): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function checkPredictions(ps: PredictionMessage[], streamId: string): void {
  expect(ps.length).toBeGreaterThan(0);
  for (const p of ps) {
    expect(p.streamId).toBe(streamId);
    expect(p.top.length).toBeGreaterThan(0);
    for (const t of p.top) expect(t.label).toBe(labels[t.index]);
    expect(p.latencyMs).toBeGreaterThanOrEqual(0);
  }
  for (let i = 1; i < ps.length; i++) {
    expect(ps[i]!.frame).toBeGreaterThan(ps[i - 1]!.frame);
    expect(ps[i]!.ptsMs).toBeGreaterThan(ps[i - 1]!.ptsMs);
  }
}

/** Prometheus text -> value of `name{stream="id"}`. */
function metric(text: string, name: string, stream: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`stream="${stream}"`));
  return line ? Number(line.split(' ').at(-1)) : undefined;
}

let proc: CliProcess | undefined;
beforeAll(() => ensureBuilt());
afterEach(() => proc?.kill());

describe('vitstream serve', { timeout: 2 * STARTUP_MS }, () => {
  it('a file played as live with --exit-when-done: predictions and stats over WebSocket, then a clean exit', async () => {
    const clip = sharedPath('media', 'person_signing_640x480.mkv');
    proc = startCli(['serve', clip, ...model.args, '--realtime', '--exit-when-done', '--port', '0']);
    const [, , wsUrl] = await proc.waitForStderr(SERVING, STARTUP_MS);
    // No --token: serve made one and printed the dashboard URL with it; without it the socket is refused.
    const [, dashboard, token] = await proc.waitForStderr(TOKEN_URL);
    expect(wsUrl!.startsWith(dashboard!.replace(/^http/, 'ws'))).toBe(true);
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl!);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => {});
    });
    expect(refused).toBe(401);
    const client = subscribeAll(`${wsUrl}?token=${token}`);
    const [{ code, signal }, close] = await Promise.all([proc.exited, client.closed]);
    expect(proc.stderr()).not.toMatch(/^\s+at /m);
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(proc.stderr()).toMatch(/all feeds ended/);
    expect(close.code).toBe(1001);

    const hello = client.messages[0]!;
    // A feed given without an id is named by its file's base name.
    expect(hello).toMatchObject({ type: 'hello', streams: ['person_signing_640x480'] });
    checkPredictions(client.predictions(), 'person_signing_640x480');
    // The clip is 3 s at 30 fps played in real time: most frames should be classified (drops allowed).
    expect(client.predictions().length).toBeGreaterThan(20);
    expect(client.predictions().at(-1)!.frame).toBeLessThan(89);
    const withStream = client
      .stats()
      .filter((s) => (s.streams as Record<string, unknown>).person_signing_640x480);
    expect(withStream.length).toBeGreaterThan(0);
  });

  it('--exit-when-done with a broken file beside a good one: every good frame classified, the broken feed named, exit 1', async () => {
    const good = sharedPath('media', 'person_signing_640x480.mkv');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vitstream-serve-'));
    const broken = path.join(dir, 'truncated.mp4');
    // The first 200 kB of an MP4 whose index (moov) is at the end: not a playable file.
    writeFileSync(broken, readFileSync(sharedPath('media', 'bottles_640x360.mp4')).subarray(0, 200_000));
    try {
      proc = startCli([
        'serve',
        good,
        broken,
        ...model.args,
        '--exit-when-done',
        '--port',
        '0',
        '--token',
        TOKEN,
      ]);
      const [, , wsUrl] = await proc.waitForStderr(SERVING, STARTUP_MS);
      expect(proc.stderr()).not.toMatch(TOKEN_URL);
      const client = subscribeAll(`${wsUrl}?token=${TOKEN}`);
      const [{ code }] = await Promise.all([proc.exited, client.closed]);
      expect(proc.stderr()).not.toMatch(/^\s+at /m);
      expect(proc.stderr()).toMatch(
        new RegExp(
          `^vitstream: feed truncated: video source ${broken.replace(/[.]/g, '\\.')}: .*moov atom not found`,
          'm',
        ),
      );
      const goodId = 'person_signing_640x480';
      expect(proc.stderr()).not.toContain(`vitstream: feed ${goodId}: video source`);
      expect(code).toBe(1);
      // Files not played in real time lose no frame: every frame of the good clip (ffprobe's count) classified,
      // as serve's closing lines say.
      expect(proc.stderr()).toContain(
        `vitstream: feed ${goodId}: ${probeFrameTimes(good).length} frames classified\n`,
      );
      // What the client got (it connects after the server starts) comes in order without gaps.
      const ps = client.predictions().filter((p) => p.streamId === goodId);
      checkPredictions(ps, goodId);
      const first = ps[0]?.frame ?? 0;
      expect(ps.map((p) => p.frame)).toEqual(Array.from({ length: ps.length }, (_, i) => first + i));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('feeds that cannot work (a missing file, a scheme ffmpeg is not asked to read): exit 2 naming each, before the model loads', async () => {
    const r = await runCli([
      'serve',
      sharedPath('media', 'bottles_640x360.mp4'),
      '/no/such.mp4',
      'ftp://example.org/v.mp4',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('vitstream: command line: invalid\n');
    expect(r.stderr).toContain('  streams.1: path "/no/such.mp4": no such file on the server\n');
    expect(r.stderr).toMatch(
      / {2}streams\.2: url "ftp:\/\/example\.org\/v\.mp4": expected an absolute URL with one of the schemes rtsp/,
    );
    expect(r.stderr).not.toMatch(/streams\.0/);
  });

  it('refuses an unsafe setup before the model loads, exit 2: --no-auth off loopback, a short token from the flag or VITSTREAM_TOKEN', async () => {
    const clip = sharedPath('media', 'bottles_640x360.mp4');
    const open = await runCli(['serve', clip, '--no-auth', '--host', '0.0.0.0', '--port', '0']);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/^vitstream: --no-auth: refused when listening on 0\.0\.0\.0/m);
    const both = await runCli(['serve', clip, '--no-auth', '--token', 'long-enough-token']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--no-auth: a token was also given/);
    const flag = await runCli(['serve', clip, '--token', 'a']);
    const env = await runCli(['serve', clip], { env: { ...process.env, VITSTREAM_TOKEN: 'a' } });
    for (const [r, source] of [
      [flag, '--token'],
      [env, 'VITSTREAM_TOKEN'],
    ] as const) {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(
        `vitstream: ${source}: tokens shorter than 8 characters are too easy to guess`,
      );
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('takes the engine flags classify takes: --scales reaches the INT8 engine, --int8-mode, --top-k and --input-path are checked', async () => {
    const clip = sharedPath('media', 'bottles_640x360.mp4');
    const scales = await runCli([
      'serve',
      clip,
      ...model.args,
      '--precision',
      'int8',
      '--scales',
      '/no/such/scales.json',
    ]);
    expect(scales.code).toBe(2);
    expect(scales.stderr).toMatch(/^vitstream: .*\/no\/such\/scales\.json/m);
    const mode = await runCli(['serve', clip, '--int8-mode', '3']);
    expect(mode.stderr).toContain('vitstream: --int8-mode: expected 1 or 2, got "3"');
    const topK = await runCli(['serve', clip, '--top-k', '0']);
    expect(topK.stderr).toContain('vitstream: --top-k: expected a positive integer, got "0"');
    const inputPath = await runCli(['serve', clip, '--input-path', 'mmap']);
    expect(inputPath.code).toBe(2);
    expect(inputPath.stderr).toContain('vitstream: --input-path: expected direct or infer, got "mmap"');
  });

  it('--loop until SIGTERM: /metrics counts the stream, SIGTERM exits 0 and leaves no ffmpeg behind', async () => {
    const clip = sharedPath('media', 'street_bikes_640x272.mp4');
    proc = startCli([
      'serve',
      clip,
      ...model.args,
      '--realtime',
      '--loop',
      '--fps',
      '5',
      '--port',
      '0',
      '--no-auth',
    ]);
    const [, httpUrl, wsUrl] = await proc.waitForStderr(SERVING, STARTUP_MS);
    await proc.waitForStderr(/--no-auth: anyone who can reach the port may use the server/);
    const client = subscribeAll(wsUrl!);
    await until(
      '5 predictions and a stats message',
      () => client.predictions().length >= 5 && client.stats().length > 0,
    );
    const id = 'street_bikes_640x272';
    checkPredictions(client.predictions(), id);
    // --fps 5 of a 25 fps clip: every 5th frame.
    for (const p of client.predictions()) expect(p.frame % 5).toBe(0);
    const stats = client.stats().at(-1)!.streams as Record<string, { fpsIn?: number; state?: string }>;
    expect(stats[id]).toBeDefined();

    const metricsText = await (await fetch(`${httpUrl}metrics`)).text();
    expect(metric(metricsText, 'vitstream_frames_in_total', id)).toBeGreaterThan(0);
    expect(metric(metricsText, 'vitstream_frames_classified_total', id)).toBeGreaterThanOrEqual(5);
    expect(metric(metricsText, 'vitstream_stream_up', id)).toBe(1);
    // Counts only: ids are not for anyone who can reach the port.
    const health = await (await fetch(`${httpUrl}healthz`)).text();
    expect(JSON.parse(health)).toMatchObject({ status: 'ok', streams: 1 });
    expect(health).not.toContain(id);

    const decoders = childPids(proc.child.pid!, 'ffmpeg');
    expect(decoders.length).toBe(1);
    proc.child.kill('SIGTERM');
    const [{ code, signal }, close] = await Promise.all([proc.exited, client.closed]);
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(proc.stderr()).toMatch(/received SIGTERM/);
    expect(close.code).toBe(1001);
    for (const pid of decoders) expect(isAlive(pid)).toBe(false);
  });
});
