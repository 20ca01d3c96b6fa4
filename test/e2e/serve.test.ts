import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type CliProcess, childPids, cifarModel, ensureBuilt, isAlive, startCli } from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';

// `vitstream serve` as a user runs it: a clip played as a live feed, a WebSocket client, /metrics,
// and the process's end (naturally with --exit-when-done, or on SIGTERM).

const model = cifarModel();
const labels = (JSON.parse(readFileSync(model.file('config.json'), 'utf8')) as { labels: string[] }).labels;
const SERVING = /serving \d+ feed\(s\) on (http:\/\/[^ ]+\/) \(dashboard\), (ws:\/\/[^ ]+) \(WebSocket\)/;

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

async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
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

describe('vitstream serve', () => {
  it('a file played as live with --exit-when-done: predictions and stats over WebSocket, then a clean exit', async () => {
    const clip = sharedPath('media', 'person_signing_640x480.mkv');
    proc = startCli(['serve', clip, ...model.args, '--realtime', '--exit-when-done', '--port', '0']);
    const [, , wsUrl] = await proc.waitForStderr(SERVING);
    const client = subscribeAll(wsUrl!);
    const [{ code, signal }, close] = await Promise.all([proc.exited, client.closed]);
    expect(proc.stderr()).not.toMatch(/^\s+at /m);
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(proc.stderr()).toMatch(/all feeds ended/);
    expect(close.code).toBe(1001);

    const hello = client.messages[0]!;
    expect(hello).toMatchObject({ type: 'hello', streams: [clip] });
    checkPredictions(client.predictions(), clip);
    // The clip is 3 s at 30 fps played in real time: most frames should be classified (drops allowed).
    expect(client.predictions().length).toBeGreaterThan(20);
    expect(client.predictions().at(-1)!.frame).toBeLessThan(89);
    const withStream = client.stats().filter((s) => (s.streams as Record<string, unknown>)[clip]);
    expect(withStream.length).toBeGreaterThan(0);
  });

  it('--loop until SIGTERM: /metrics counts the stream, SIGTERM exits 0 and leaves no ffmpeg behind', async () => {
    const clip = sharedPath('media', 'street_bikes_640x272.mp4');
    proc = startCli(['serve', clip, ...model.args, '--realtime', '--loop', '--fps', '5', '--port', '0']);
    const [, httpUrl, wsUrl] = await proc.waitForStderr(SERVING);
    const client = subscribeAll(wsUrl!);
    await until(
      '5 predictions and a stats message',
      () => client.predictions().length >= 5 && client.stats().length > 0,
    );
    checkPredictions(client.predictions(), clip);
    // --fps 5 of a 25 fps clip: every 5th frame.
    for (const p of client.predictions()) expect(p.frame % 5).toBe(0);
    const stats = client.stats().at(-1)!.streams as Record<string, { fpsIn?: number; state?: string }>;
    expect(stats[clip]).toBeDefined();

    const metricsText = await (await fetch(`${httpUrl}metrics`)).text();
    expect(metric(metricsText, 'vitstream_frames_in_total', clip)).toBeGreaterThan(0);
    expect(metric(metricsText, 'vitstream_frames_classified_total', clip)).toBeGreaterThanOrEqual(5);
    expect(metric(metricsText, 'vitstream_stream_up', clip)).toBe(1);
    const health = (await (await fetch(`${httpUrl}healthz`)).json()) as { status: string; streams: string[] };
    expect(health).toMatchObject({ status: 'ok', streams: [clip] });

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
