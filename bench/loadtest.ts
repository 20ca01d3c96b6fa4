/**
 * Load test of the WebSocket hub (a script, not a unit test):
 *
 *   node dist/bench/loadtest.js --clients 100 --rate 3000 --seconds 10 --slow 1
 *
 * This process runs the server and publishes predictions at `--rate` messages/s (0 = as fast as
 * it can) over `--streams` streams. A child process opens `--clients` WebSocket clients
 * subscribed to every stream, plus `--slow` raw TCP clients that complete the handshake and
 * then never read. It reports messages/s delivered, what fast and slow clients missed, and the
 * server process's peak RSS, as text and as one JSON line.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { InputError } from '../src/errors.js';
import type { Prediction } from '../src/predictions.js';
import { createServer } from '../src/server/server.js';

interface ChildReport {
  type: 'report';
  messages: number;
  predictions: number;
  missed: number;
  bytes: number;
  open: number;
}

const { values: args } = parseArgs({
  options: {
    role: { type: 'string', default: 'server' },
    clients: { type: 'string', default: '100' },
    slow: { type: 'string', default: '1' },
    rate: { type: 'string', default: '2000' },
    streams: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '10' },
    thumbnails: { type: 'boolean', default: false },
    url: { type: 'string' },
  },
});

function positiveInt(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InputError(`--${name}: expected a whole number >= 0, got ${value}`, { input: `--${name}` });
  return n;
}

if (args.role === 'clients') await runClients();
else await runServer();

async function runServer(): Promise<void> {
  const clients = positiveInt('clients', args.clients);
  const slow = positiveInt('slow', args.slow);
  const rate = positiveInt('rate', args.rate);
  const streams = Math.max(1, positiveInt('streams', args.streams));
  const seconds = Math.max(1, positiveInt('seconds', args.seconds));

  const rssStart = process.memoryUsage().rss;
  const server = await createServer({ port: 0, maxClients: clients + slow + 10 });
  const child = fork(fileURLToPath(import.meta.url), [
    '--role=clients',
    `--url=${server.wsUrl}`,
    `--clients=${clients}`,
    `--slow=${slow}`,
  ]);
  let latest: ChildReport = { type: 'report', messages: 0, predictions: 0, missed: 0, bytes: 0, open: 0 };
  child.on('message', (m: ChildReport) => {
    latest = m;
  });
  // Wait until every client, slow ones included, has subscribed.
  while (server.hub.clients().filter((c) => c.subscriptions.length > 0).length < clients + slow) {
    await new Promise((r) => setTimeout(r, 50));
  }

  const ids = Array.from({ length: streams }, (_, i) => `cam${i}`);
  const frameRgb = { rgb: randomBytes(224 * 224 * 3), width: 224, height: 224 };
  let published = 0;
  const publishOne = (): void => {
    const streamId = ids[published % streams]!;
    const p: Prediction = {
      streamId,
      frame: published,
      ptsMs: published * 40,
      receivedAtMs: Date.now(),
      latencyMs: 30,
      top: [
        { index: 207, label: 'golden retriever', score: 0.81 },
        { index: 208, label: 'Labrador retriever', score: 0.11 },
        { index: 852, label: 'tennis ball', score: 0.03 },
        { index: 222, label: 'kuvasz', score: 0.01 },
        { index: 257, label: 'Great Pyrenees', score: 0.01 },
      ],
    };
    server.hub.publish(p, args.thumbnails ? { thumbnail: frameRgb } : {});
    published++;
  };

  let rssMax = process.memoryUsage().rss;
  let slowQueuedMax = 0;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
    for (const c of server.hub.clients()) {
      if (c.missedTotal > 0) slowQueuedMax = Math.max(slowQueuedMax, c.queuedBytes + c.bufferedAmount);
    }
  }, 100);

  const before = { ...latest };
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    if (rate === 0) {
      for (let i = 0; i < 100; i++) publishOne();
      await new Promise((r) => setImmediate(r));
    } else {
      // Catch up in slices so that a stall never turns into one enormous synchronous burst.
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      for (let i = 0; published < due && i < Math.max(1, rate / 50); i++) publishOne();
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  // Give the clients a moment to drain what is in flight, then take their final counts.
  await new Promise((r) => setTimeout(r, 1000));
  child.send('report');
  await new Promise<void>((resolve) => child.once('message', () => resolve()));
  clearInterval(sampler);
  // The child opens the never-reading clients last, so they hold the highest ids.
  const stalled = server.hub
    .clients()
    .sort((a, b) => a.id - b.id)
    .slice(clients);
  const fastMissed = latest.missed;
  const delivered = latest.predictions - before.predictions;

  const result = {
    clients,
    slowClients: slow,
    streams,
    thumbnails: args.thumbnails,
    targetRate: rate,
    seconds: Number(elapsed.toFixed(2)),
    published,
    publishedPerS: Math.round(published / elapsed),
    deliveredPredictions: delivered,
    deliveredPerS: Math.round(delivered / elapsed),
    deliveredFraction: Number((delivered / (published * clients)).toFixed(4)),
    fastClientsMissed: fastMissed,
    receivedMBPerS: Number(((latest.bytes - before.bytes) / elapsed / 1e6).toFixed(1)),
    slowClientsDropped: stalled.reduce((n, c) => n + c.missedTotal, 0),
    slowClientMaxHeldKB: Math.round(slowQueuedMax / 1024),
    rssStartMB: Math.round(rssStart / 2 ** 20),
    rssMaxMB: Math.round(rssMax / 2 ** 20),
  };
  const lines = [
    `clients ${clients} (+${slow} never reading), ${streams} streams, ${result.seconds} s, thumbnails ${args.thumbnails ? 'on' : 'off'}`,
    `published ${published} predictions (${result.publishedPerS}/s, target ${rate === 0 ? 'max' : rate}/s)`,
    `delivered ${delivered} to fast clients: ${result.deliveredPerS} msg/s, ${result.receivedMBPerS} MB/s, ${(result.deliveredFraction * 100).toFixed(2)}% of published x clients; missed by fast clients: ${fastMissed}`,
    `slow clients: ${result.slowClientsDropped} dropped, at most ${result.slowClientMaxHeldKB} KB held for one`,
    `server RSS: ${result.rssStartMB} MB at start, ${result.rssMaxMB} MB peak`,
  ];
  process.stdout.write(`${lines.join('\n')}\n${JSON.stringify(result)}\n`);
  child.kill();
  await server.close('load test done');
}

async function runClients(): Promise<void> {
  const url = args.url!;
  const n = positiveInt('clients', args.clients);
  const slow = positiveInt('slow', args.slow);
  const totals: ChildReport = { type: 'report', messages: 0, predictions: 0, missed: 0, bytes: 0, open: 0 };
  const open = async (): Promise<void> => {
    const ws = new WebSocket(url);
    ws.on('message', (data: Buffer) => {
      totals.messages++;
      totals.bytes += data.length;
      // Cheap type sniffing: parsing every message would make this process the bottleneck.
      if (data.includes('"type":"prediction"')) totals.predictions++;
      else if (data.includes('"type":"missed"'))
        totals.missed += (JSON.parse(data.toString()) as { count: number }).count;
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    totals.open++;
    ws.send(JSON.stringify({ type: 'subscribe', streams: ['*'] }));
  };
  for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, open));
  const u = new URL(url);
  const frame = (text: string): Buffer => {
    const payload = Buffer.from(text);
    const mask = randomBytes(4);
    return Buffer.concat([
      Buffer.from([0x81, 0x80 | payload.length]),
      mask,
      payload.map((b, i) => b ^ mask[i % 4]!),
    ]);
  };
  for (let i = 0; i < slow; i++) {
    const s = net.connect(Number(u.port), u.hostname, () => {
      s.write(
        `GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      s.write(frame(JSON.stringify({ type: 'subscribe', streams: ['*'] })));
      s.once('data', () => s.pause()); // read the handshake reply, then never again
    });
    s.on('error', () => {});
  }
  process.on('message', () => process.send!(totals));
  setInterval(() => process.send!(totals), 1000);
}
