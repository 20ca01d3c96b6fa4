import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliProcess,
  cifarModel,
  ensureBuilt,
  probeFrameTimes,
  runCli,
  startCli,
} from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';
import { hasNatsServer, type NatsServer, startNatsServer } from './nats-server.js';

// File jobs through the cluster as users run them: nats-server on loopback, workers as child
// processes on the CPU backend with the CIFAR-10 demo model, real clips, results read back.

const model = cifarModel();
const clip = (name: string) => sharedPath('media', name);
const EVERY = 10;
/** Frames classified with --every n: ffprobe's frame count, not vitstream's. */
const expectedFrames = (file: string) => Math.ceil(probeFrameTimes(file).length / EVERY);

interface Line {
  streamId: string;
  frame: number;
  top: { index: number; label: string; score: number }[];
}
const readJsonl = (file: string): Line[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

/** The frames per file, checked to be strictly increasing (in order, no duplicate) within each file. */
function framesByFile(lines: Line[]): Map<string, number[]> {
  const byFile = new Map<string, number[]>();
  for (const l of lines) {
    const f = byFile.get(l.streamId) ?? [];
    if (f.length > 0) expect(l.frame, `${l.streamId}: frame order`).toBeGreaterThan(f.at(-1)!);
    f.push(l.frame);
    byFile.set(l.streamId, f);
  }
  return byFile;
}

describe.skipIf(!hasNatsServer)('vitstream worker / submit / results (file jobs over NATS JetStream)', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let tmp: string;
  const workers: CliProcess[] = [];
  const startWorker = async (...extra: string[]) => {
    const w = startCli(['worker', '--nats', server.url, '--backend', 'cpu', ...model.args, ...extra]);
    workers.push(w);
    await w.waitForStderr(/ready on/, 60_000);
    return w;
  };
  const submit = async (files: string[]) => {
    const r = await runCli([
      'submit',
      '--nats',
      server.url,
      '--model',
      model.dir,
      '--every',
      String(EVERY),
      ...files,
    ]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    ensureBuilt();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-cluster-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  afterEach(async () => {
    for (const w of workers.splice(0)) w.kill();
    await nc?.close();
    await server?.stop();
  });
  // A fresh server per test: each test's streams, consumers and leases start empty.
  const freshServer = async () => {
    server = await startNatsServer();
    nc = await server.connect();
  };

  it('a job of 3 files through one worker (--gpu all on one adapter): every sampled frame once, in order, per file', async () => {
    await freshServer();
    const files = [
      clip('person_signing_640x480.mkv'),
      clip('street_bikes_640x272.mp4'),
      clip('airplane_field_640x360.mp4'),
    ];
    const w = await startWorker('--gpu', 'all', '--metrics-port', '0');
    // One adapter: one engine in this process, no per-GPU children.
    expect(w.stderr()).not.toMatch(/one worker process each/);
    expect(w.stderr().match(/ready on/g)).toHaveLength(1);
    const job = await submit(files);
    expect(job).toMatch(/^j[a-z0-9]+$/);
    const out = path.join(tmp, 'job1.jsonl');
    const r = await runCli(['results', job, '--nats', server.url, '--follow', '--out', out], {
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/3\/3 files done/);
    const byFile = framesByFile(readJsonl(out));
    expect([...byFile.keys()].sort()).toEqual([...files].sort());
    for (const f of files) {
      const frames = byFile.get(f)!;
      expect(frames.length, f).toBe(expectedFrames(f));
      expect(frames[0]).toBe(0);
    }
    // The worker's own /metrics counts the same.
    const metricsUrl = w.stderr().match(/metrics on (http:\/\/\S+)/)![1]!;
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toMatch(/^vitstream_worker_files_total\{result="done"\} 3$/m);
    const total = files.reduce((a, f) => a + expectedFrames(f), 0);
    expect(metrics).toMatch(
      new RegExp(`^vitstream_worker_predictions_total\\{kind="file"\\} ${total}$`, 'm'),
    );
    // CSV too, the same rows as classify writes (one per frame and rank).
    const csv = path.join(tmp, 'job1.csv');
    const r2 = await runCli(['results', job, '--nats', server.url, '--out', csv]);
    expect(r2.code, r2.stderr).toBe(0);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toMatch(/^stream_id,frame,/);
    expect(rows.length - 1).toBe(5 * files.reduce((a, f) => a + expectedFrames(f), 0));
  }, 180_000);

  it('a worker killed (SIGKILL) mid-file: the file is redelivered to another worker; results complete, no frame twice', async () => {
    await freshServer();
    const file = clip('bottles_640x360.mp4');
    const first = new Promise<void>((resolve) => {
      const sub = nc.subscribe('vitstream.pred.>', { max: 1 });
      void (async () => {
        for await (const _ of sub) resolve();
      })();
    });
    const a = await startWorker('--ack-wait', '3', '--id', 'worker-a');
    const job = await submit([file]);
    await bounded(first, 60_000, 'first prediction of worker A');
    a.kill();
    await a.exited;
    const b = await startWorker('--ack-wait', '3', '--id', 'worker-b');
    const out = path.join(tmp, 'job2.jsonl');
    const r = await runCli(['results', job, '--nats', server.url, '--follow', '--out', out], {
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const frames = framesByFile(readJsonl(out)).get(file)!;
    expect(frames.length).toBe(expectedFrames(file));
    expect(new Set(frames).size).toBe(frames.length);
    // Worker B did the redelivered file; the stream holds each frame once (message-id dedup).
    expect(b.stderr()).toMatch(/"delivery":2/);
    const js = jetstream(nc);
    const info = await (await js.streams.get('VITSTREAM_PRED')).info(false, {
      subjects_filter: `vitstream.pred.${job}.*`,
    });
    expect(info.state.subjects?.[`vitstream.pred.${job}.f00000`]).toBe(expectedFrames(file));
  }, 240_000);

  it('nats-server killed and restarted mid-job (file storage): the worker reconnects, nothing is lost or doubled', async () => {
    await freshServer();
    const files = [clip('bottles_640x360.mp4'), clip('street_bikes_640x272.mp4')];
    const first = new Promise<void>((resolve) => {
      const sub = nc.subscribe('vitstream.pred.>', { max: 1 });
      void (async () => {
        for await (const _ of sub) resolve();
      })();
    });
    const w = await startWorker('--ack-wait', '5');
    const job = await submit(files);
    await bounded(first, 60_000, 'first prediction');
    await server.restart();
    const out = path.join(tmp, 'job4.jsonl');
    const r = await runCli(['results', job, '--nats', server.url, '--follow', '--out', out], {
      timeoutMs: 150_000,
    });
    expect(r.code, `${r.stderr}\n${w.stderr().slice(-3000)}`).toBe(0);
    const byFile = framesByFile(readJsonl(out));
    for (const f of files) expect(byFile.get(f)?.length, f).toBe(expectedFrames(f));
  }, 240_000);

  it('a poison file goes to the dead letter with its reason after --max-deliver attempts; the other file finishes', async () => {
    await freshServer();
    const poison = path.join(tmp, 'not-a-video.mp4');
    writeFileSync(poison, 'this is not a video\n'.repeat(100));
    const good = clip('person_signing_640x480.mkv');
    await startWorker('--max-deliver', '2');
    const job = await submit([poison, good]);
    const out = path.join(tmp, 'job3.jsonl');
    const r = await runCli(['results', job, '--nats', server.url, '--follow', '--out', out], {
      timeoutMs: 120_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${poison}: given up:`);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(framesByFile(readJsonl(out)).get(good)).toHaveLength(expectedFrames(good));
    const js = jetstream(nc);
    const consumer = await js.consumers.get('VITSTREAM_DEAD', { filter_subjects: `vitstream.dead.${job}` });
    const m = await consumer.next({ expires: 10_000 });
    expect(m).not.toBeNull();
    const dead = m!.json<{ name: string; reason: string; deliveries: number }>();
    expect(dead.name).toBe(poison);
    expect(dead.deliveries).toBe(2);
    expect(dead.reason).toMatch(/not-a-video\.mp4/);
  }, 180_000);
});

async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
