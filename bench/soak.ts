/**
 * Soak test for `vitstream serve`: hours of live feeds, run-time stream changes, clients that are
 * slow or vanish, ffmpegs killed and frozen, and a report of what grew. Not a unit test.
 *
 *   npm run soak -- --minutes 30 [--out /tmp/soak] [--streams 8] [--clients 50] [--fps 2]
 *
 * It starts the real CLI (dist/src/cli/main.js serve) as a child process with the trained
 * CIFAR-10 demo checkpoint on WebGPU, so memory and ffmpeg children are measured on the server
 * process itself, and it checks at the end that no ffmpeg outlived it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { VideoSourceError, VitstreamError } from '../src/errors.js';
import { type PromSample, parsePromText } from './prom-text.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    out: { type: 'string', default: '/tmp/soak' },
    streams: { type: 'string', default: '8' },
    clients: { type: 'string', default: '50' },
    fps: { type: 'string', default: '2' },
    media: { type: 'string', default: '/work/shared/media' },
    model: { type: 'string', default: '/work/shared/models/vit-cifar10-demo' },
    backend: { type: 'string', default: 'webgpu' },
  },
});
const MINUTES = Number(args.minutes);
const OUT = args.out as string;
const STREAMS = Number(args.streams);
const CLIENTS = Number(args.clients);
const TOKEN = 'soak-token-0123456789';
const SAMPLE_MS = MINUTES <= 3 ? 5000 : 15_000;
mkdirSync(OUT, { recursive: true });
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const log = (msg: string) =>
  process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---- an MJPEG camera on 127.0.0.1 -------------------------------------------------------------

function mjpegCamera(media: string, fps: number) {
  const dir = path.join(OUT, 'jpeg');
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-i',
    media,
    '-t',
    '4',
    '-vf',
    'fps=10,scale=320:-2',
    '-q:v',
    '6',
    path.join(dir, 'f-%03d.jpg'),
  ]);
  if (r.status !== 0)
    throw new VideoSourceError(`ffmpeg could not make JPEGs: ${r.stderr}`, { input: 'ffmpeg' });
  const jpegs = readdirSync(dir)
    .sort()
    .map((n) => readFileSync(path.join(dir, n)));
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    res.writeHead(200, {
      'Content-Type': 'multipart/x-mixed-replace; boundary=frame',
      'Cache-Control': 'no-cache',
    });
    let i = 0;
    const t = setInterval(() => {
      const j = jpegs[i++ % jpegs.length];
      res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${j.length}\r\n\r\n`);
      res.write(j);
      res.write('\r\n');
    }, 1000 / fps);
    req.on('close', () => clearInterval(t));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise<{ url: string; close(): void }>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/cam.mjpg`,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      });
    }),
  );
}

// ---- /proc helpers -------------------------------------------------------------------------------

function procStat(pid: number): { comm: string; state: string; ppid: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const close = s.lastIndexOf(')');
    const [state, ppid] = s.slice(close + 2).split(' ', 2);
    return { comm: s.slice(s.indexOf('(') + 1, close), state, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}
function ffmpegChildren(parent: number): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      const st = procStat(pid);
      return st !== undefined && st.comm === 'ffmpeg' && st.ppid === parent && st.state !== 'Z';
    });
}
function alive(pid: number): boolean {
  const st = procStat(pid);
  return st !== undefined && st.state !== 'Z';
}
function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

// ---- metrics ------------------------------------------------------------------------------------

type Series = PromSample;
const parseMetrics = parsePromText;
const one = (s: Series[], name: string) => s.find((x) => x.name === name)?.value ?? Number.NaN;
const byStream = (s: Series[], name: string) => {
  const r: Record<string, number> = {};
  for (const x of s)
    if (x.name === name && x.labels.stream !== undefined)
      r[x.labels.stream] = (r[x.labels.stream] ?? 0) + x.value;
  return r;
};

async function request(
  base: string,
  method: string,
  p: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const res = await fetch(new URL(p, base), {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, text: await res.text() };
}

// ---- clients ------------------------------------------------------------------------------------

class Latencies {
  private readonly samples: number[] = [];
  private seen = 0;
  add(ms: number) {
    // Reservoir sampling keeps the percentiles honest over hours with bounded memory.
    this.seen++;
    if (this.samples.length < 50_000) this.samples.push(ms);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.samples.length) this.samples[j] = ms;
    }
  }
  pct(p: number): number {
    const s = [...this.samples].sort((a, b) => a - b);
    return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : Number.NaN;
  }
  get count() {
    return this.seen;
  }
}

function startClients(wsUrl: string, latencies: Latencies) {
  let stopped = false;
  const sockets = new Set<WebSocket>();
  const counts = { predictions: 0, connects: 0, vanished: 0, slow: 0, missedNotices: 0 };
  const connect = (kind: 'normal' | 'slow' | 'vanish') => {
    if (stopped) return;
    const ws = new WebSocket(`${wsUrl}?token=${TOKEN}`);
    sockets.add(ws);
    counts.connects++;
    ws.on('error', () => {});
    ws.on('close', () => {
      sockets.delete(ws);
      if (!stopped) setTimeout(() => connect(kind), 2000 + Math.random() * 3000);
    });
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'subscribe', streams: ['*'] }));
      if (kind === 'slow') {
        // Reads nothing for a while (its queue on the server fills and drops), then goes on reading.
        const sock = (ws as unknown as { _socket: Socket })._socket;
        const pause = () => {
          if (stopped || ws.readyState !== ws.OPEN) return;
          sock.pause();
          counts.slow++;
          setTimeout(
            () => {
              sock.resume();
              setTimeout(pause, 5000 + Math.random() * 10_000);
            },
            10_000 + Math.random() * 20_000,
          );
        };
        setTimeout(pause, Math.random() * 5000);
      }
      if (kind === 'vanish') {
        // Disappears without a closing handshake, as a laptop lid or a dead Wi-Fi link would.
        setTimeout(
          () => {
            counts.vanished++;
            (ws as unknown as { _socket: Socket })._socket.destroy();
          },
          5000 + Math.random() * 30_000,
        );
      }
    });
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { type: string; receivedAtMs?: number };
      if (m.type === 'prediction' && m.receivedAtMs !== undefined) {
        counts.predictions++;
        if (kind === 'normal') latencies.add(Date.now() - m.receivedAtMs);
      } else if (m.type === 'missed') counts.missedNotices++;
    });
  };
  const nSlow = Math.round(CLIENTS * 0.1);
  const nVanish = Math.round(CLIENTS * 0.1);
  for (let i = 0; i < CLIENTS; i++) {
    const kind = i < nSlow ? 'slow' : i < nSlow + nVanish ? 'vanish' : 'normal';
    setTimeout(() => connect(kind), i * 50);
  }
  return {
    counts,
    stop() {
      stopped = true;
      for (const ws of sockets) ws.terminate();
    },
  };
}

// ---- report helpers -----------------------------------------------------------------------------

function regression(xs: number[], ys: number[]): { slope: number; intercept: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return { slope, intercept: my - slope * mx };
}

function svgPlot(samples: Sample[], file: string) {
  const W = 800;
  const H = 360;
  const pad = 50;
  const tMax = Math.max(1, ...samples.map((s) => s.tMin));
  const series: { key: keyof Sample; color: string; label: string }[] = [
    { key: 'rssMB', color: '#d33', label: 'RSS MB' },
    { key: 'heapMB', color: '#36c', label: 'heap MB' },
    { key: 'handles', color: '#393', label: 'handles' },
    { key: 'ffmpeg', color: '#a6a', label: 'ffmpeg ×10' },
  ];
  const val = (s: Sample, k: keyof Sample) => (k === 'ffmpeg' ? s.ffmpeg * 10 : (s[k] as number));
  const yMax =
    Math.max(1, ...samples.flatMap((s) => series.map((x) => val(s, x.key)).filter(Number.isFinite))) * 1.1;
  const X = (t: number) => pad + ((W - 2 * pad) * t) / tMax;
  const Y = (v: number) => H - pad - ((H - 2 * pad) * v) / yMax;
  const lines = series.map(
    (x) =>
      `<polyline fill="none" stroke="${x.color}" stroke-width="1.5" points="${samples
        .filter((s) => Number.isFinite(val(s, x.key)))
        .map((s) => `${X(s.tMin).toFixed(1)},${Y(val(s, x.key)).toFixed(1)}`)
        .join(' ')}"/>`,
  );
  const legend = series.map(
    (x, i) => `<text x="${pad + 10 + i * 110}" y="20" fill="${x.color}" font-size="12">${x.label}</text>`,
  );
  const ticks = [0, 0.25, 0.5, 0.75, 1].map(
    (f) =>
      `<text x="${X(f * tMax)}" y="${H - pad + 16}" font-size="10" text-anchor="middle">${(f * tMax).toFixed(0)} min</text><text x="${pad - 4}" y="${Y(f * yMax) + 3}" font-size="10" text-anchor="end">${(f * yMax).toFixed(0)}</text>`,
  );
  writeFileSync(
    file,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="#888"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${H - pad}" stroke="#888"/>${ticks.join('')}${lines.join('')}${legend.join('')}</svg>\n`,
  );
}

interface Sample {
  tMin: number;
  rssMB: number;
  heapMB: number;
  gpuMB: number;
  handles: number;
  ffmpeg: number;
  clients: number;
  streams: number;
  framesIn: number;
  classified: number;
}

// ---- main ---------------------------------------------------------------------------------------

async function main() {
  const media = readdirSync(args.media as string)
    .filter((n) => /\.(mp4|mkv)$/.test(n))
    .sort()
    .map((n) => path.join(args.media as string, n));
  const cam = await mjpegCamera(media[0], 10);
  const fps = Number(args.fps);
  const streams = [
    { id: 'mjpeg-cam', url: cam.url, fps },
    ...Array.from({ length: STREAMS - 1 }, (_, i) => ({
      id: `file-${i}`,
      path: media[i % media.length],
      realtime: true,
      loop: true,
      fps,
    })),
  ];
  const config = {
    // The churn below adds files over the API: their folder must be a media root.
    server: { host: '127.0.0.1', port: 0, token: TOKEN, mediaRoots: [args.media as string] },
    model: {
      model: args.model,
      weights: path.join(args.model as string, 'model.safetensors'),
      backend: args.backend,
      topK: 3,
    },
    watchdog: { firstFrameTimeoutMs: 15_000, noFrameTimeoutMs: 6000 },
    reconnect: { initialMs: 500, maxMs: 5000, maxRetries: 'forever' },
    streams,
  };
  const configFile = path.join(OUT, 'feeds.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  log(`starting serve: ${streams.length} streams, ${CLIENTS} clients, ${MINUTES} min; output in ${OUT}`);
  const server: ChildProcess = spawn(
    process.execPath,
    [path.join(root, 'dist/src/cli/main.js'), '--log-level', 'warn', 'serve', '--config', configFile],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const serverPid = server.pid as number;
  let stderr = '';
  server.stderr?.setEncoding('utf8');
  server.stderr?.on('data', (s: string) => {
    stderr += s;
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const exited = new Promise<number | null>((r) => server.on('exit', (code) => r(code)));
  const base = await new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /serving .* on (http:\/\/[^ ]+\/) \(dashboard\)/.exec(stderr);
      if (m) {
        clearInterval(t);
        resolve(m[1]);
      }
    }, 200);
    exited.then(() =>
      reject(new VitstreamError(`serve exited early:\n${stderr}`, { input: 'vitstream serve' })),
    );
  });
  const batching = /batching (maxBatch=\S+ maxDelayMs=\S+ \(.*\))/.exec(stderr)?.[1] ?? 'configured';
  log(`serve up at ${base}; ${batching}`);
  const wsUrl = `${base.replace('http', 'ws')}ws`;
  const latencies = new Latencies();
  const clients = startClients(wsUrl, latencies);

  const seenFfmpeg = new Set<number>();
  const samples: Sample[] = [];
  const t0 = Date.now();
  const tMin = () => (Date.now() - t0) / 60_000;
  const scrape = async () => parseMetrics((await request(base, 'GET', '/metrics')).text);
  const sample = async () => {
    for (const p of ffmpegChildren(serverPid)) seenFfmpeg.add(p);
    try {
      const m = await scrape();
      const s: Sample = {
        tMin: tMin(),
        rssMB: rssOf(serverPid) / 2 ** 20,
        heapMB: one(m, 'vitstream_process_heap_used_bytes') / 2 ** 20,
        gpuMB: one(m, 'vitstream_gpu_memory_bytes') / 2 ** 20,
        handles: one(m, 'vitstream_process_active_handles'),
        ffmpeg: ffmpegChildren(serverPid).length,
        clients: one(m, 'vitstream_ws_clients'),
        streams: Object.keys(byStream(m, 'vitstream_stream_up')).length,
        framesIn: Object.values(byStream(m, 'vitstream_frames_in_total')).reduce((a, b) => a + b, 0),
        classified: Object.values(byStream(m, 'vitstream_frames_classified_total')).reduce(
          (a, b) => a + b,
          0,
        ),
      };
      samples.push(s);
    } catch (e) {
      log(`sample failed: ${(e as Error).message}`);
    }
  };

  // Streams come and go every few seconds; the statuses prove the API answers as it should.
  const dynIds = ['dyn-0', 'dyn-1', 'dyn-2'];
  const apiStatus: Record<string, number> = {};
  let churn = 0;
  const churnTimer = setInterval(async () => {
    const id = dynIds[churn % dynIds.length];
    const adding = Math.floor(churn / dynIds.length) % 2 === 0;
    churn++;
    try {
      const r = adding
        ? await request(base, 'POST', '/streams', {
            id,
            path: media[(churn + 2) % media.length],
            realtime: true,
            loop: true,
            fps,
          })
        : await request(base, 'DELETE', `/streams/${id}`);
      const key = `${adding ? 'POST' : 'DELETE'} ${r.status}`;
      apiStatus[key] = (apiStatus[key] ?? 0) + 1;
    } catch (e) {
      apiStatus[`error ${(e as Error).name}`] = (apiStatus[`error ${(e as Error).name}`] ?? 0) + 1;
    }
  }, 4000);

  // Every minute an ffmpeg dies (SIGKILL) or freezes (SIGSTOP: only the stall watchdog notices).
  const sabotage: string[] = [];
  let minute = 0;
  const killTimer = setInterval(() => {
    const pids = ffmpegChildren(serverPid);
    if (pids.length === 0) return;
    const pid = pids[Math.floor(Math.random() * pids.length)];
    const how: NodeJS.Signals = minute++ % 2 === 0 ? 'SIGKILL' : 'SIGSTOP';
    try {
      process.kill(pid, how);
      sabotage.push(`${tMin().toFixed(1)} min: ${how} ffmpeg ${pid}`);
      log(`${how} ffmpeg ${pid}`);
    } catch {}
  }, 60_000);

  await sample();
  const sampleTimer = setInterval(sample, SAMPLE_MS);
  const progressTimer = setInterval(() => {
    const s = samples.at(-1);
    if (s)
      log(
        `t=${s.tMin.toFixed(1)} min rss=${s.rssMB.toFixed(0)}MB heap=${s.heapMB.toFixed(0)}MB handles=${s.handles} ffmpeg=${s.ffmpeg} clients=${s.clients} in=${s.framesIn} out=${s.classified} p50=${latencies.pct(50).toFixed(0)}ms`,
      );
  }, 60_000);
  await new Promise((r) => setTimeout(r, MINUTES * 60_000));

  clearInterval(churnTimer);
  clearInterval(killTimer);
  clearInterval(sampleTimer);
  clearInterval(progressTimer);
  await sample();
  const final = await scrape();
  clients.stop();
  // Any ffmpeg left frozen by SIGSTOP must still be killed by the server on shutdown.
  for (const p of ffmpegChildren(serverPid)) seenFfmpeg.add(p);
  const shutdownStart = Date.now();
  server.kill('SIGTERM');
  const code = await Promise.race([
    exited,
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000)),
  ]);
  const shutdownMs = Date.now() - shutdownStart;
  if (code === 'timeout') server.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  const leftover = [...seenFfmpeg].filter(alive);
  cam.close();

  // ---- report ----
  const warm = samples.filter((s) => s.tMin >= Math.min(5, MINUTES * 0.25));
  const perHour = (k: keyof Sample) => {
    if (warm.length < 3) return Number.NaN;
    return regression(
      warm.map((s) => s.tMin / 60),
      warm.map((s) => s[k] as number),
    ).slope;
  };
  const fin = {
    in: byStream(final, 'vitstream_frames_in_total'),
    out: byStream(final, 'vitstream_frames_classified_total'),
    dropped: byStream(final, 'vitstream_frames_dropped_total'),
    skipped: byStream(final, 'vitstream_frames_skipped_total'),
    restarts: byStream(final, 'vitstream_stream_restarts_total'),
    stalls: byStream(final, 'vitstream_stream_stalls_total'),
  };
  const rows = Object.keys(fin.in).sort();
  const table = (every: number) => samples.filter((_, i) => i % every === 0 || i === samples.length - 1);
  const step = Math.max(1, Math.round(60_000 / SAMPLE_MS));
  const lines = [
    `# vitstream soak report`,
    '',
    `${MINUTES} min, ${streams.length} configured streams (${STREAMS - 1} files played live with loop + 1 MJPEG over HTTP), 3 streams added/removed every 4 s via HTTP, ${CLIENTS} WebSocket clients (${Math.round(CLIENTS * 0.1)} slow, ${Math.round(CLIENTS * 0.1)} vanishing), an ffmpeg SIGKILLed or SIGSTOPped every minute. Model ${args.model} on ${args.backend}; sampling ${fps} fps per stream; ${batching}.`,
    '',
    '## Resources over time',
    '',
    '| t (min) | RSS MB | heap MB | GPU MB | handles | ffmpeg | WS clients | streams | frames in | classified |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...table(step).map(
      (s) =>
        `| ${s.tMin.toFixed(1)} | ${s.rssMB.toFixed(1)} | ${s.heapMB.toFixed(1)} | ${s.gpuMB.toFixed(1)} | ${s.handles} | ${s.ffmpeg} | ${s.clients} | ${s.streams} | ${s.framesIn} | ${s.classified} |`,
    ),
    '',
    `Growth after warm-up (linear regression over ${warm.length} samples from t=${warm[0]?.tMin.toFixed(1) ?? '?'} min): RSS ${perHour('rssMB').toFixed(2)} MB/h, heap ${perHour('heapMB').toFixed(2)} MB/h, handles ${perHour('handles').toFixed(2)}/h, ffmpeg ${perHour('ffmpeg').toFixed(2)}/h.`,
    `RSS range after warm-up: ${Math.min(...warm.map((s) => s.rssMB)).toFixed(1)}–${Math.max(...warm.map((s) => s.rssMB)).toFixed(1)} MB; heap ${Math.min(...warm.map((s) => s.heapMB)).toFixed(1)}–${Math.max(...warm.map((s) => s.heapMB)).toFixed(1)} MB.`,
    '',
    '## Per stream (final /metrics; dynamic streams show only if present at the end)',
    '',
    '| stream | frames in | classified | dropped | skipped (sampling) | restarts | stalls |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (id) =>
        `| ${id} | ${fin.in[id] ?? 0} | ${fin.out[id] ?? 0} | ${fin.dropped[id] ?? 0} | ${fin.skipped[id] ?? 0} | ${fin.restarts[id] ?? 0} | ${fin.stalls[id] ?? 0} |`,
    ),
    '',
    `End-to-end latency at the clients (frame received by ffmpeg reader -> prediction at a normal client), ${latencies.count} predictions: p50 ${latencies.pct(50).toFixed(0)} ms, p99 ${latencies.pct(99).toFixed(0)} ms.`,
    `Clients: ${clients.counts.connects} connections, ${clients.counts.predictions} predictions received, ${clients.counts.vanished} vanished, ${clients.counts.slow} slow pauses, ${clients.counts.missedNotices} 'missed' notices; ws messages dropped for slow readers: ${one(final, 'vitstream_ws_messages_dropped_total')}.`,
    `Stream API calls: ${Object.entries(apiStatus)
      .map(([k, v]) => `${k} ×${v}`)
      .join(', ')}.`,
    `Sabotage: ${sabotage.length} (${sabotage.join('; ')}).`,
    '',
    `Shutdown: SIGTERM -> exit code ${code} in ${shutdownMs} ms. ffmpeg processes seen during the run: ${seenFfmpeg.size}; left alive after exit: ${leftover.length}${leftover.length ? ` (${leftover.join(', ')})` : ''}.`,
    '',
    `Plot: ${path.join(OUT, 'soak.svg')}`,
  ];
  svgPlot(samples, path.join(OUT, 'soak.svg'));
  writeFileSync(path.join(OUT, 'samples.json'), JSON.stringify(samples));
  writeFileSync(path.join(OUT, 'report.md'), `${lines.join('\n')}\n`);
  process.stdout.write(`\n${lines.join('\n')}\n`);
  const ok = leftover.length === 0 && code !== 'timeout';
  if (!ok) {
    process.stdout.write(
      `\nFAIL: ${leftover.length} ffmpeg left over, exit ${code}\nserver stderr tail:\n${stderr.slice(-4000)}\n`,
    );
    for (const p of leftover)
      try {
        process.kill(p, 'SIGKILL');
      } catch {}
  }
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`soak failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
