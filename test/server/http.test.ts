import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type VitstreamServer } from '../../src/server/index.js';
import { prediction, TestClient } from './helpers.js';

const servers: VitstreamServer[] = [];

async function start(options: Parameters<typeof createServer>[0] = {}): Promise<VitstreamServer> {
  const s = await createServer({ port: 0, ...options });
  servers.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the Prometheus text format (0.0.4): every line must be a HELP or TYPE
 * comment or a sample `name{l="v",...} value`, and every sample must belong to a declared family.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(m[3]);
        types.set(m[2]!, m[3]!);
      }
      continue;
    }
    // Values parse as Go's strconv.ParseFloat does in Prometheus: NaN and Inf in any letter case.
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|nan|[+-]?inf)$/i.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const part of m[3].match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
        const eq = part.indexOf('=');
        labels[part.slice(0, eq)] = part.slice(eq + 2, -1);
      }
    }
    const name = m[1]!;
    const family = name.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(name) && !types.has(family)) throw new Error(`sample ${name} has no TYPE line`);
    const raw = m[4]!.toLowerCase();
    const v =
      raw === 'nan'
        ? Number.NaN
        : raw.endsWith('inf')
          ? (raw.startsWith('-') ? -1 : 1) * Infinity
          : Number(raw);
    if (raw !== 'nan' && Number.isNaN(v)) throw new Error(`bad sample value: ${JSON.stringify(line)}`);
    samples.push({ name, labels, value: v });
  }
  return { types, samples };
}

async function scrape(s: VitstreamServer): Promise<ReturnType<typeof parseExposition>> {
  const res = await fetch(`${s.url}metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

describe('/metrics', () => {
  it('serves parseable text whose counters follow what the pipeline and hub do', async () => {
    // No periodic stats: its snapshot sets the utilization gauge, which on a busy machine can land
    // between the set below and the scrape.
    const s = await start({ statsIntervalMs: 3_600_000 });
    const before = await scrape(s);
    expect(before.types.get('vitstream_frames_in_total')).toBe('counter');
    expect(before.types.get('vitstream_frames_dropped_total')).toBe('counter');
    expect(before.types.get('vitstream_batch_latency_seconds')).toBe('histogram');
    expect(before.types.get('vitstream_engine_utilization_ratio')).toBe('gauge');
    expect(before.types.get('vitstream_ws_clients')).toBe('gauge');
    expect(value(before.samples, 'vitstream_ws_clients')).toBe(0);

    const { metrics } = s;
    metrics.framesIn.inc({ stream: 'cam1' }, 30);
    metrics.framesClassified.inc({ stream: 'cam1' }, 6);
    metrics.framesDropped.inc({ stream: 'cam1', reason: 'engine_behind' }, 2);
    metrics.batchLatency.observe(0.02);
    metrics.batchLatency.observe(0.2);
    metrics.engineUtilization.set(0.75);

    const c = await TestClient.connect(s.wsUrl);
    await c.subscribe(['cam1']);
    // The pipeline counts what it publishes (one place: its stats), the hub only fans out.
    for (const p of [prediction('cam1', 1), prediction('cam1', 2)]) {
      s.stats.classified(p);
      s.hub.publish(p);
    }
    await c.waitFor((m) => m.type === 'prediction' && m.frame === 2);

    const after = (await scrape(s)).samples;
    expect(value(after, 'vitstream_frames_in_total', { stream: 'cam1' })).toBe(30);
    // 6 counted directly, 2 by the stats.
    expect(value(after, 'vitstream_frames_classified_total', { stream: 'cam1' })).toBe(8);
    expect(value(after, 'vitstream_frames_dropped_total', { stream: 'cam1', reason: 'engine_behind' })).toBe(
      2,
    );
    expect(value(after, 'vitstream_batch_latency_seconds_count')).toBe(2);
    expect(value(after, 'vitstream_batch_latency_seconds_bucket', { le: '0.025' })).toBe(1);
    expect(value(after, 'vitstream_batch_latency_seconds_bucket', { le: '+Inf' })).toBe(2);
    expect(value(after, 'vitstream_engine_utilization_ratio')).toBe(0.75);
    expect(value(after, 'vitstream_ws_clients')).toBe(1);
    expect(value(after, 'vitstream_prediction_latency_seconds_count', { stream: 'cam1' })).toBe(2);
    expect(value(after, 'vitstream_ws_messages_sent_total', { type: 'prediction' })).toBe(2);
    expect(value(after, 'vitstream_ws_messages_sent_total', { type: 'hello' })).toBe(1);
    expect(value(after, 'vitstream_ws_messages_dropped_total')).toBe(0);
    await c.close();
  });

  it('keeps servers in one process apart', async () => {
    const [a, b] = [await start(), await start({ processMetrics: true })];
    a.metrics.framesIn.inc({ stream: 'x' }, 5);
    const sa = await scrape(a);
    const sb = await scrape(b);
    expect(value(sa.samples, 'vitstream_frames_in_total', { stream: 'x' })).toBe(5);
    expect(value(sb.samples, 'vitstream_frames_in_total', { stream: 'x' })).toBeUndefined();
    expect(sb.types.has('vitstream_process_resident_memory_bytes')).toBe(true);
    expect(sa.types.has('vitstream_process_resident_memory_bytes')).toBe(false);
  });
});

describe('HTTP routes', () => {
  it('serves the dashboard files with their types and a CSP', async () => {
    const s = await start();
    const dir = new URL('../../src/server/public/', import.meta.url);
    for (const [path, file, type] of [
      ['', 'index.html', 'text/html'],
      ['app.js', 'app.js', 'text/javascript'],
      ['style.css', 'style.css', 'text/css'],
    ] as const) {
      const res = await fetch(`${s.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await res.text()).toBe(readFileSync(new URL(file, dir), 'utf8'));
    }
  });

  it('answers /healthz, 404 for unknown paths and 405 for other methods', async () => {
    const s = await start();
    s.hub.setStreams(['a']);
    const health = await fetch(`${s.url}healthz`);
    expect(health.status).toBe(200);
    // Counts only: ids (which may be camera URLs) are for token holders.
    expect(await health.json()).toMatchObject({ status: 'ok', clients: 0, streams: 1 });
    expect((await fetch(`${s.url}../../etc/passwd`)).status).toBe(404);
    expect((await fetch(`${s.url}%2e%2e/package.json`)).status).toBe(404);
    const post = await fetch(s.url, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('reports a port in use as a ConfigError naming it', async () => {
    const s = await start();
    await expect(createServer({ port: s.port })).rejects.toThrow(
      /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/,
    );
  });
});

describe('close', () => {
  it('a graceful close first flushes what was published to a client that is behind but still reading', async () => {
    // Four writes in flight at most: the rest of the 200 wait in the client's own queue.
    const s = await start({ closeGraceMs: 5000, maxInFlight: 4 });
    const late = await TestClient.connect(s.wsUrl);
    await late.subscribe(['*']);
    const socket = (late.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    for (let i = 0; i < 200; i++) s.hub.publish(prediction('cam', i, 'z'.repeat(2000)));
    const closing = s.close('all feeds ended');
    setTimeout(() => socket.resume(), 200);
    expect(await late.closed).toEqual({ code: 1001, reason: 'all feeds ended' });
    await closing;
    const frames = late.messages.filter((m) => m.type === 'prediction').map((m) => m.frame);
    expect(frames).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('closes clients with 1001 and the reason, even one that stopped reading, then stops listening', async () => {
    const s = await start({ closeGraceMs: 100 });
    const [a, stalled] = [await TestClient.connect(s.wsUrl), await TestClient.connect(s.wsUrl)];
    await stalled.subscribe(['*']);
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    for (let i = 0; i < 2000; i++) s.hub.publish(prediction('cam', i, 'y'.repeat(2000)));
    await s.close('maintenance window');
    expect(await a.closed).toEqual({ code: 1001, reason: 'maintenance window' });
    (stalled.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await stalled.closed;
    expect(s.hub.clientCount).toBe(0);
    await expect(fetch(s.url)).rejects.toThrow();
    await s.close(); // idempotent
  });
});
