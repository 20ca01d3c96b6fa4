/**
 * Live feeds at scale (issue #21: "32 looping 1080p30 feeds served with --fps 2 and nothing dropped,
 * with CPU use reported"). Starts the real CLI, `vitstream serve`, with N links to one clip played
 * at its own rate, again and again (`--realtime --loop`), as N cameras; after every feed has
 * delivered a prediction and a warm-up has passed, it watches D seconds and prints one table:
 * predictions per feed (from a WebSocket client subscribed to every stream) against fps x D, frames
 * the product dropped (/metrics: live drop-oldest, engine errors), watchdog stalls and restarts,
 * the decode path each feed's ffmpeg took (NVDEC or CPU, from its arguments), CPU cores busy (the
 * machine, the server process, its ffmpegs) and NVDEC load where nvidia-smi exists. Exit code 1 if
 * a feed delivered less than --min-share of what it should, 2 on bad arguments.
 *
 *   node dist/bench/live-feeds.js --clip c.mp4 --feeds 32 --seconds 60 --model vit-b16-224 --weights w.safetensors [-- serve flags]
 *
 * bench/live-feeds.sh makes the clip and the weights and calls this.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { InputError, VitstreamError } from '../src/errors.js';
import { childProcesses } from '../src/server/processStats.js';
import { guarded } from '../src/video/spawn.js';
import { type DmonRecorder, recordDmon, type UtilSummary } from './nvidia-dmon.js';
import { clockTicks, machineCpu, processArgs, processCpu } from './proc-cpu.js';
import { type PromSample, parsePromText } from './prom-text.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.resolve(HERE, '../src/cli/main.js');

interface Settings {
  clip: string;
  feeds: number;
  seconds: number;
  warmup: number;
  fps: number;
  model: string;
  weights?: string;
  hwaccel: string;
  work: string;
  minShare: number;
  startTimeout: number;
  serveArgs: string[];
}

function settings(): Settings {
  const parse = () =>
    parseArgs({
      allowPositionals: true,
      options: {
        clip: { type: 'string' },
        feeds: { type: 'string', default: '32' },
        seconds: { type: 'string', default: '60' },
        warmup: { type: 'string', default: '10' },
        fps: { type: 'string', default: '2' },
        model: { type: 'string', default: 'vit-b16-224' },
        weights: { type: 'string' },
        hwaccel: { type: 'string', default: 'auto' },
        work: { type: 'string', default: '/tmp/vitstream-live' },
        'min-share': { type: 'string', default: '0.95' },
        'start-timeout': { type: 'string', default: '120' },
      },
    });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (err) {
    // An unknown or valueless flag: a usage error like the others (exit 2, one line).
    throw new InputError(`${(err as Error).message.split('.')[0]} (serve flags go after --)`, {
      input: 'arguments',
    });
  }
  const { values: v, positionals } = parsed;
  const number = (name: string, ok: (n: number) => boolean, what: string): number => {
    const raw = v[name as keyof typeof v] as string;
    const n = Number(raw);
    if (!ok(n)) throw new InputError(`--${name}: expected ${what}, got "${raw}"`, { input: `--${name}` });
    return n;
  };
  if (!v.clip) throw new InputError('--clip: required (the video each feed plays)', { input: '--clip' });
  if (!existsSync(v.clip)) throw new InputError(`--clip: no such file: ${v.clip}`, { input: '--clip' });
  return {
    clip: path.resolve(v.clip),
    feeds: number('feeds', (n) => Number.isInteger(n) && n >= 1 && n <= 1000, 'a whole number 1-1000'),
    seconds: number('seconds', (n) => n >= 1 && n <= 3600, 'seconds, 1-3600'),
    warmup: number('warmup', (n) => n >= 0 && n <= 600, 'seconds, 0-600'),
    fps: number('fps', (n) => n > 0 && n <= 240, 'frames per second, > 0'),
    model: v.model as string,
    weights: v.weights,
    hwaccel: v.hwaccel as string,
    work: path.resolve(v.work as string),
    minShare: number('min-share', (n) => n > 0 && n <= 1, 'a fraction, 0-1'),
    startTimeout: number('start-timeout', (n) => n > 0, 'seconds, > 0'),
    serveArgs: positionals,
  };
}

/** One link per feed, so that each feed has its own id (its base name) and its ffmpeg its own input. */
function feedLinks(s: Settings): { links: string[]; idOf: Map<string, string> } {
  const dir = path.join(s.work, 'feeds');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const width = Math.max(2, String(s.feeds).length);
  const links: string[] = [];
  const idOf = new Map<string, string>();
  for (let i = 1; i <= s.feeds; i++) {
    const id = `cam${String(i).padStart(width, '0')}`;
    const link = path.join(dir, `${id}${path.extname(s.clip)}`);
    symlinkSync(s.clip, link);
    links.push(link);
    idOf.set(link, id);
  }
  return { links, idOf };
}

interface Server {
  child: ChildProcess;
  base: string;
  token: string;
  /** The server's stderr so far (the log file keeps all of it). */
  log: () => string;
  exited: Promise<number | null>;
}

async function startServer(s: Settings, links: string[]): Promise<Server> {
  const token = randomBytes(18).toString('base64url');
  const args = [
    MAIN,
    '--log-level',
    'warn',
    'serve',
    ...links,
    '--realtime',
    '--loop',
    '--fps',
    String(s.fps),
    '--hwaccel',
    s.hwaccel,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--token',
    token,
    '--model',
    s.model,
    ...(s.weights ? ['--weights', s.weights] : []),
    // Above the default 64 only when asked for more feeds than that.
    ...(s.feeds > 64 ? ['--max-streams', String(s.feeds)] : []),
    ...s.serveArgs,
  ];
  // Dies with this script, even killed by a timeout (setpriv --pdeathsig), and its ffmpegs with it.
  const [bin, ...rest] = guarded(process.execPath, args);
  const child = spawn(bin as string, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
  const logFile = createWriteStream(path.join(s.work, 'serve.log'));
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    logFile.write(chunk);
    tail += chunk;
    if (tail.length > 400_000) tail = tail.slice(-200_000);
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  void exited.then(() => logFile.end());
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new VitstreamError(`serve did not start within ${s.startTimeout} s`, { input: 'serve' }));
    }, s.startTimeout * 1000);
    const look = () => {
      const m = /serving \d+ feed\(s\) on (http:\/\/\S+\/) \(dashboard\)/.exec(tail);
      if (!m) return;
      clearTimeout(timer);
      child.stderr?.off('data', look);
      resolve(m[1]);
    };
    child.stderr?.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new VitstreamError(`serve exited (code ${code}) before serving:\n${tail.slice(-3000)}`, {
          input: 'serve',
        }),
      );
    });
  });
  return { child, base, token, log: () => tail, exited };
}

async function stopServer(server: Server): Promise<number | null> {
  if (server.child.exitCode !== null) return server.child.exitCode;
  server.child.kill('SIGTERM');
  const killer = setTimeout(() => server.child.kill('SIGKILL'), 20_000);
  const code = await server.exited;
  clearTimeout(killer);
  return code;
}

/**
 * Predictions per stream seen by one WebSocket client subscribed to every stream. The window is
 * judged by each frame's arrival at the server (`receivedAtMs`, same clock), not by when its
 * prediction reaches this client: a busy machine delays delivery, not what the feed gave.
 */
class PredictionCounter {
  readonly total = new Map<string, number>();
  readonly inWindow = new Map<string, number>();
  /** The latest arrival time seen per stream. */
  private readonly latest = new Map<string, number>();
  private window: { fromMs: number; toMs: number } | undefined;
  missed = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as {
        type: string;
        streamId?: string;
        receivedAtMs?: number;
        replayed?: boolean;
        count?: number;
      };
      if (msg.type === 'missed') this.missed += msg.count ?? 0;
      if (msg.type !== 'prediction' || msg.streamId === undefined || msg.replayed) return;
      const id = msg.streamId;
      const at = msg.receivedAtMs ?? Date.now();
      this.total.set(id, (this.total.get(id) ?? 0) + 1);
      this.latest.set(id, Math.max(at, this.latest.get(id) ?? 0));
      if (this.window && at >= this.window.fromMs && at < this.window.toMs)
        this.inWindow.set(id, (this.inWindow.get(id) ?? 0) + 1);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Counts frames that arrive at the server from `fromMs` on (until `close`). */
  open(fromMs: number): void {
    this.window = { fromMs, toMs: Number.POSITIVE_INFINITY };
  }

  /**
   * Ends the window at `toMs` and waits until every stream in `ids` has delivered a frame that
   * arrived after it (predictions of one stream come in order), or `graceS` has passed.
   */
  async close(ids: string[], toMs: number, graceS: number): Promise<{ fromMs: number; toMs: number }> {
    const w = this.window ?? { fromMs: toMs, toMs };
    w.toMs = toMs;
    await this.until(
      () => ids.every((id) => (this.latest.get(id) ?? 0) >= w.toMs),
      graceS,
      () => undefined,
    ).catch(() => {});
    return w;
  }

  /** Resolves once each of `ids` has had a prediction; rejects after `timeoutS` naming those still silent. */
  everyStreamDelivered(ids: string[], timeoutS: number): Promise<void> {
    return this.until(
      () => ids.every((id) => this.total.has(id)),
      timeoutS,
      () =>
        new VitstreamError(
          `no prediction within ${timeoutS} s from ${ids.filter((id) => !this.total.has(id)).join(', ')}`,
          { input: 'serve' },
        ),
    );
  }

  private until(done: () => boolean, timeoutS: number, error: () => Error | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(error()), timeoutS * 1000);
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  disconnect() {
    this.ws.close();
  }
}

async function connect(server: Server): Promise<PredictionCounter> {
  const ws = new WebSocket(`${server.base.replace(/^http/, 'ws')}ws?token=${server.token}`);
  const counter = new PredictionCounter(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'subscribe', streams: ['*'] }));
  return counter;
}

type Series = PromSample[];

async function scrape(server: Server): Promise<Series> {
  const res = await fetch(new URL('/metrics', server.base), {
    headers: { Authorization: `Bearer ${server.token}` },
    signal: AbortSignal.timeout(10_000),
  });
  return parsePromText(await res.text());
}

/** Per stream (and per `key` label when given), the growth of a counter between two scrapes. */
function growth(a: Series, b: Series, name: string, key?: string): Map<string, number> {
  const sum = (s: Series) => {
    const r = new Map<string, number>();
    for (const x of s)
      if (x.name === name && x.labels.stream !== undefined) {
        const k = key ? `${x.labels.stream}\t${x.labels[key]}` : x.labels.stream;
        r.set(k, (r.get(k) ?? 0) + x.value);
      }
    return r;
  };
  const before = sum(a);
  const after = sum(b);
  const out = new Map<string, number>();
  for (const [k, v] of after) if (v - (before.get(k) ?? 0) > 0) out.set(k, v - (before.get(k) ?? 0));
  return out;
}

/** A counter's value summed over its series. */
function sumOf(s: Series, name: string): number {
  return s.filter((x) => x.name === name).reduce((a, x) => a + x.value, 0);
}

/** Which decode path each feed's ffmpeg runs on now: NVDEC (`-hwaccel cuda`) or the CPU. */
function decodePaths(serverPid: number, idOf: Map<string, string>, into: Map<string, Set<string>>): void {
  for (const pid of childProcesses('ffmpeg', serverPid) ?? []) {
    const args = processArgs(pid);
    if (!args) continue;
    const input = args[args.indexOf('-i') + 1];
    const id = input === undefined ? undefined : idOf.get(input);
    if (id === undefined) continue;
    const hw = args[args.indexOf('-hwaccel') + 1];
    const way = args.includes('-hwaccel') && hw === 'cuda' ? 'NVDEC' : 'CPU';
    into.set(id, (into.get(id) ?? new Set()).add(way));
  }
}

interface CpuSnapshot {
  atMs: number;
  machine: ReturnType<typeof machineCpu>;
  server: { selfS: number; childrenS: number };
  ffmpeg: Map<number, number>;
}

function cpuSnapshot(serverPid: number, ticks: number): CpuSnapshot {
  const ffmpeg = new Map<number, number>();
  for (const pid of childProcesses('ffmpeg', serverPid) ?? []) {
    const c = processCpu(pid, ticks);
    if (c) ffmpeg.set(pid, c.selfS);
  }
  return {
    atMs: Date.now(),
    machine: machineCpu(ticks),
    server: processCpu(serverPid, ticks) ?? { selfS: Number.NaN, childrenS: Number.NaN },
    ffmpeg,
  };
}

/**
 * Cores busy between two snapshots. ffmpeg: the growth of those alive at the end, plus what the
 * ones that exited meanwhile (restarts) added to the server's reaped-children time after the start.
 */
function coresBusy(a: CpuSnapshot, b: CpuSnapshot) {
  const wallS = (b.atMs - a.atMs) / 1000;
  let ffmpegS = b.server.childrenS - a.server.childrenS;
  for (const [pid, s] of b.ffmpeg) ffmpegS += s - (a.ffmpeg.get(pid) ?? 0);
  for (const [pid, s] of a.ffmpeg) if (!b.ffmpeg.has(pid)) ffmpegS -= s;
  const machineShare =
    (b.machine.busyS - a.machine.busyS) / Math.max(1e-9, b.machine.totalS - a.machine.totalS);
  return {
    machine: machineShare * b.machine.cores,
    cores: b.machine.cores,
    vitstream: (b.server.selfS - a.server.selfS) / wallS,
    ffmpeg: ffmpegS / wallS,
  };
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const util = (u: UtilSummary | undefined) =>
  u ? `${fmt(u.meanPct, 0)}% / ${fmt(u.maxPct, 0)}%${u.gpus > 1 ? ` (${u.gpus} GPUs)` : ''}` : 'n/a';

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  const s = settings();
  // Ctrl-C or a timeout's SIGTERM: serve stops its feeds as it does on its own signals.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  mkdirSync(s.work, { recursive: true });
  const { links, idOf } = feedLinks(s);
  const ids = [...idOf.values()];
  const ticks = clockTicks();
  process.stderr.write(
    `live-feeds: starting serve with ${s.feeds} feeds (log: ${path.join(s.work, 'serve.log')})\n`,
  );
  const server = await startServer(s, links);
  const serverPid = server.child.pid as number;
  let counter: PredictionCounter | undefined;
  let dmon: DmonRecorder | undefined;
  try {
    counter = await connect(server);
    const t0 = Date.now();
    await counter.everyStreamDelivered(ids, s.startTimeout);
    process.stderr.write(
      `live-feeds: every feed delivered after ${fmt((Date.now() - t0) / 1000)} s; warm-up ${s.warmup} s, then ${s.seconds} s measured\n`,
    );
    await new Promise((r) => setTimeout(r, s.warmup * 1000));

    const paths = new Map<string, Set<string>>();
    decodePaths(serverPid, idOf, paths);
    const metricsA = await scrape(server);
    const cpuA = cpuSnapshot(serverPid, ticks);
    counter.open(cpuA.atMs);
    dmon = recordDmon(s.seconds);
    // Restarts may move a feed to another path mid-window: look again every few seconds.
    const pathTimer = setInterval(() => decodePaths(serverPid, idOf, paths), 5000);
    await new Promise((r) => setTimeout(r, s.seconds * 1000));
    clearInterval(pathTimer);
    const cpuB = cpuSnapshot(serverPid, ticks);
    const metricsB = await scrape(server);
    const window = await counter.close(ids, cpuB.atMs, 10);
    decodePaths(serverPid, idOf, paths);
    const gpu = await dmon.stop();
    dmon = undefined;

    const windowS = (window.toMs - window.fromMs) / 1000;
    const expected = s.fps * windowS;
    const got = ids.map((id) => counter?.inWindow.get(id) ?? 0);
    const framesIn = growth(metricsA, metricsB, 'vitstream_frames_in_total');
    const classified = growth(metricsA, metricsB, 'vitstream_frames_classified_total');
    const dropped = growth(metricsA, metricsB, 'vitstream_frames_dropped_total');
    const dropReasons = growth(metricsA, metricsB, 'vitstream_frames_dropped_total', 'reason');
    const restarts = growth(metricsA, metricsB, 'vitstream_stream_restarts_total');
    const stalls = growth(metricsA, metricsB, 'vitstream_stream_stalls_total');
    const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    const cpu = coresBusy(cpuA, cpuB);
    const fallbacks = (server.log().match(/NVDEC cannot decode this stream/g) ?? []).length;
    const pathCount = new Map<string, number>();
    for (const id of ids) {
      const way = [...(paths.get(id) ?? new Set(['none seen']))].sort().join('+');
      pathCount.set(way, (pathCount.get(way) ?? 0) + 1);
    }
    const short = ids.filter((_, i) => got[i] < s.minShare * expected);
    const reasons = new Map<string, number>();
    for (const [k, v] of dropReasons) {
      const reason = k.split('\t')[1] ?? '?';
      reasons.set(reason, (reasons.get(reason) ?? 0) + v);
    }

    const mean = got.reduce((a, b) => a + b, 0) / got.length;
    // Frames each feed's ffmpeg delivered per second: below the clip's rate, the source fell behind.
    const inFps = ids.map((id) => (framesIn.get(id) ?? 0) / windowS);
    process.stdout.write(
      `\nlive feeds: ${s.feeds} x ${path.basename(s.clip)} (--realtime --loop), --fps ${s.fps}, --hwaccel ${s.hwaccel}, model ${s.model}; ${fmt(windowS)} s measured after a ${s.warmup} s warm-up\n\n`,
    );
    process.stdout.write(
      `${table(
        [
          'feeds',
          'seconds',
          `predictions/feed min / mean / max (expected ${fmt(expected, 0)})`,
          'decoded fps/feed min / max',
          `feeds < ${Math.round(s.minShare * 100)}%`,
          'dropped (reasons)',
          'stalls / restarts (before the window)',
          'decode path (feeds)',
          `CPU cores busy: machine (of ${cpu.cores}) / vitstream / ffmpeg`,
          'NVDEC util mean / max',
          'SM util mean / max',
        ],
        [
          [
            String(s.feeds),
            fmt(windowS),
            `${Math.min(...got)} / ${fmt(mean)} / ${Math.max(...got)}`,
            `${fmt(Math.min(...inFps))} / ${fmt(Math.max(...inFps))}`,
            String(short.length),
            `${total(dropped)}${reasons.size ? ` (${[...reasons].map(([r, n]) => `${r} ${n}`).join(', ')})` : ''}`,
            `${total(stalls)} / ${total(restarts)} (${sumOf(metricsA, 'vitstream_stream_stalls_total')} / ${sumOf(metricsA, 'vitstream_stream_restarts_total')})`,
            [...pathCount].map(([w, n]) => `${w} ${n}`).join(', ') +
              (fallbacks ? `; ${fallbacks} NVDEC->CPU fallbacks` : ''),
            `${fmt(cpu.machine, 2)} / ${fmt(cpu.vitstream, 2)} / ${fmt(cpu.ffmpeg, 2)}`,
            util(gpu?.dec),
            util(gpu?.sm),
          ],
        ],
      )}\n`,
    );
    // The feeds that fell short or lost frames, one row each: where to look first.
    const odd = ids.filter(
      (id, i) => got[i] < s.minShare * expected || dropped.has(id) || restarts.has(id) || stalls.has(id),
    );
    if (odd.length > 0) {
      process.stdout.write(
        `\n${table(
          [
            'feed',
            'predictions',
            'classified (/metrics)',
            'decoded fps',
            'dropped',
            'stalls',
            'restarts',
            'decode path',
          ],
          odd.map((id) => [
            id,
            String(counter?.inWindow.get(id) ?? 0),
            String(classified.get(id) ?? 0),
            fmt((framesIn.get(id) ?? 0) / windowS),
            String(dropped.get(id) ?? 0),
            String(stalls.get(id) ?? 0),
            String(restarts.get(id) ?? 0),
            [...(paths.get(id) ?? [])].join('+') || 'none seen',
          ]),
        )}\n`,
      );
    }
    if (counter.missed > 0)
      process.stdout.write(
        `\nthis client was sent 'missed' for ${counter.missed} messages (it read too slowly)\n`,
      );
    const ok = short.length === 0;
    process.stdout.write(
      `\n${ok ? 'PASS' : 'FAIL'}: ${short.length} of ${s.feeds} feeds delivered < ${Math.round(s.minShare * 100)}% of ${fmt(expected, 0)} predictions${short.length ? ` (${short.slice(0, 10).join(', ')}${short.length > 10 ? ', ...' : ''})` : ''}\n`,
    );
    return ok ? 0 : 1;
  } finally {
    await dmon?.stop();
    counter?.disconnect();
    const code = await stopServer(server);
    if (code !== 0) process.stderr.write(`live-feeds: serve exited with code ${code}\n`);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`live-feeds: ${(err as Error).message}\n`);
    process.exit(err instanceof InputError ? 2 : 1);
  },
);
