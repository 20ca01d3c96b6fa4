import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/util/npy.js';
import {
  childPids,
  cifarModel,
  cliPath,
  ensureBuilt,
  isAlive,
  probeFrameTimes,
  runCli,
  startCli,
} from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';

// `vitstream classify` as a user runs it, on real clips with the trained CIFAR-10 demo checkpoint.

interface Line {
  streamId: string;
  frame: number;
  ptsMs: number;
  receivedAtMs: number;
  file?: string;
  receivedAt: string;
  latencyMs: number;
  top: { index: number; label: string; score: number }[];
}

const model = cifarModel();
const labels = (JSON.parse(readFileSync(model.file('config.json'), 'utf8')) as { labels: string[] }).labels;
const clip = (name: string) => sharedPath('media', name);
const readJsonl = (file: string): Line[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
const STACK = /^\s+at /m;

let tmp: string;
beforeAll(() => {
  ensureBuilt();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-e2e-classify-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Frame times relative to the first frame, as ffprobe reports them. */
function relativeTimes(file: string): number[] {
  const t = probeFrameTimes(file);
  return t.map((x) => x - t[0]!);
}

function checkTop(line: Line, k: number): void {
  expect(line.top).toHaveLength(k);
  for (const t of line.top) expect(t.label).toBe(labels[t.index]);
  for (let i = 1; i < k; i++) expect(line.top[i]!.score).toBeLessThanOrEqual(line.top[i - 1]!.score);
  expect(new Set(line.top.map((t) => t.index)).size).toBe(k);
}

describe('vitstream classify (files to predictions)', () => {
  it('--fps 2 --top-k 10 --out x.jsonl: one line per sampled frame, on the 0.5 s grid of ffprobe timestamps', async () => {
    const file = clip('airplane_field_640x360.mp4');
    const out = path.join(tmp, 'x.jsonl');
    const r = await runCli(['classify', file, ...model.args, '--fps', '2', '--top-k', '10', '--out', out]);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.code, r.stderr).toBe(0);
    // With --out, the summary table goes to stdout.
    expect(r.stdout).toMatch(/airplane_field_640x360\.mp4\s*\|\s*ok\s*\|/);

    // ffprobe's own timestamps: slot k (k * 500 ms) is classified by the first frame at or after it.
    const times = relativeTimes(file);
    const expectedFrames: number[] = [];
    for (let slot = 0; slot * 500 <= times.at(-1)! + 1e-6; slot++) {
      const i = times.findIndex((t) => t >= slot * 500 - 1e-3);
      if (expectedFrames.at(-1) !== i) expectedFrames.push(i);
    }
    // The clip is 25 fps with audio running past the video: 11.2 s of frames -> 23 slots.
    expect(expectedFrames.length).toBe(Math.floor(times.at(-1)! / 500) + 1);

    const lines = readJsonl(out);
    expect(lines.map((l) => l.frame)).toEqual(expectedFrames);
    for (const l of lines) {
      expect(l.streamId).toBe(file);
      expect(l.ptsMs).toBeCloseTo(times[l.frame]!, 0);
      expect(new Date(l.receivedAt).getTime()).toBe(l.receivedAtMs);
      expect(l.latencyMs).toBeGreaterThanOrEqual(0);
      checkTop(l, 10);
      // Top-10 of 10 classes: the whole softmax.
      expect(l.top.reduce((a, t) => a + t.score, 0)).toBeCloseTo(1, 5);
    }
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.ptsMs).toBeGreaterThan(lines[i - 1]!.ptsMs);
    // The sky with an airliner: the classifier should mostly say so.
    const airplane = lines.filter((l) => l.top[0]!.label === 'airplane').length;
    expect(airplane / lines.length).toBeGreaterThan(0.5);
  });

  it('- reads the video from standard input (README: `cat clip.mkv | vitstream classify -`)', async () => {
    const file = clip('person_signing_640x480.mkv');
    const r = await runCli(['classify', '-', ...model.args, '--every', '10'], {
      stdinFile: file,
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    const times = relativeTimes(file);
    expect(lines.map((l) => l.frame)).toEqual(
      Array.from({ length: Math.ceil(times.length / 10) }, (_, i) => i * 10),
    );
    for (const l of lines) {
      expect(l.streamId).toBe('-');
      expect(l.ptsMs).toBeCloseTo(times[l.frame]!, 0);
      checkTop(l, 5);
    }
  });

  it('| head: when the reader closes stdout, it stops ffmpeg and exits 141 quietly, as a tool killed by SIGPIPE', async () => {
    const cli = startCli(['classify', clip('airplane_field_640x360.mp4'), ...model.args]);
    try {
      const deadline = Date.now() + 30_000;
      while (!cli.stdout().includes('\n') && Date.now() < deadline) await sleep(20);
      expect(JSON.parse(cli.stdout().split('\n')[0]!).frame).toBe(0);
      const ffmpegs = childPids(cli.child.pid!, 'ffmpeg');
      cli.child.stdout!.destroy();
      const { code } = await cli.exited;
      expect(cli.stderr()).not.toMatch(STACK);
      expect(cli.stderr()).not.toMatch(/EPIPE|vitstream:/);
      expect(code).toBe(141);
      for (const pid of ffmpegs) expect(isAlive(pid)).toBe(false);
    } finally {
      cli.kill();
    }
  });

  it('--format csv to stdout: a header and one row per (frame, rank)', async () => {
    const file = clip('street_bikes_640x272.mp4');
    const r = await runCli([
      'classify',
      file,
      ...model.args,
      '--every',
      '25',
      '--top-k',
      '3',
      '--format',
      'csv',
    ]);
    expect(r.code, r.stderr).toBe(0);
    // Without --out, stdout carries only the predictions; progress and the summary go to stderr.
    expect(r.stderr).toMatch(/street_bikes_640x272\.mp4\s*\|\s*ok\s*\|/);
    const [header, ...rows] = r.stdout.trim().split('\n');
    expect(header).toBe('stream_id,frame,pts_ms,received_at,latency_ms,rank,class_index,label,score,file');
    const times = relativeTimes(file);
    const frames = Array.from({ length: Math.ceil(times.length / 25) }, (_, i) => i * 25);
    expect(rows).toHaveLength(frames.length * 3);
    const parsed = rows.map((row) => row.split(','));
    expect(parsed.every((c) => c.length === 10)).toBe(true);
    // `file` is for images of a folder or glob; a video's rows leave it empty.
    expect(parsed.every((c) => c[9] === '')).toBe(true);
    expect([...new Set(parsed.map((c) => Number(c[1])))]).toEqual(frames);
    for (const [i, c] of parsed.entries()) {
      const [stream, frame, pts, at, latency, rank, index, label, score] = c as [string, ...string[]];
      expect(stream).toBe(file);
      expect(Number(pts)).toBeCloseTo(times[Number(frame)]!, 0);
      expect(Number.isNaN(Date.parse(at!))).toBe(false);
      expect(Number(latency)).toBeGreaterThanOrEqual(0);
      expect(Number(rank)).toBe((i % 3) + 1);
      expect(label).toBe(labels[Number(index)]);
      expect(Number(score)).toBeGreaterThan(0);
      expect(Number(score)).toBeLessThanOrEqual(1);
    }
  });

  it('an image folder with a corrupt image: each line names its image, the bad one is named, exit 1', async () => {
    const dir = path.join(tmp, 'photos');
    mkdirSync(dir);
    execFileSync('ffmpeg', [
      '-loglevel',
      'error',
      '-i',
      clip('street_bikes_640x272.mp4'),
      '-vf',
      'select=not(mod(n\\,20))',
      '-fps_mode',
      'passthrough',
      '-frames:v',
      '3',
      `${dir}/b%d.png`,
    ]);
    writeFileSync(path.join(dir, 'a-broken.png'), 'not a png');
    const out = path.join(tmp, 'photos.jsonl');
    const r = await runCli(['classify', dir, ...model.args, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `vitstream: ${dir}: video source ${dir}: 1 of 4 images could not be decoded: ${dir}/a-broken.png`,
    );
    const lines = readJsonl(out);
    expect(lines.map((l) => l.file)).toEqual([1, 2, 3].map((i) => `${dir}/b${i}.png`));
    expect(lines.every((l) => l.streamId === dir)).toBe(true);
  });

  it('a missing file and a non-video among good ones: exit 1, bad files named on stderr, good files complete', async () => {
    const good1 = clip('person_signing_640x480.mkv');
    const good2 = clip('street_bikes_640x272.mp4');
    const missing = path.join(tmp, 'no-such-clip.mp4');
    const notVideo = path.join(tmp, 'notes.mp4');
    writeFileSync(notVideo, 'these are meeting notes, not a video\n'.repeat(20));
    const out = path.join(tmp, 'mixed.jsonl');
    const r = await runCli([
      'classify',
      good1,
      missing,
      notVideo,
      good2,
      ...model.args,
      '--every',
      '10',
      '--out',
      out,
    ]);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.code).toBe(1);
    const failures = r.stderr.split('\n').filter((l) => l.startsWith('vitstream: '));
    expect(failures).toHaveLength(2);
    expect(failures[0]).toContain(`vitstream: ${missing}: `);
    expect(failures[0]).toMatch(/no such file/);
    expect(failures[1]).toContain(`vitstream: ${notVideo}: `);
    expect(r.stdout).toMatch(/no-such-clip\.mp4\s*\|\s*failed/);

    const lines = readJsonl(out);
    for (const good of [good1, good2]) {
      const n = probeFrameTimes(good).length;
      const frames = lines.filter((l) => l.streamId === good).map((l) => l.frame);
      expect(frames).toEqual(Array.from({ length: Math.ceil(n / 10) }, (_, i) => i * 10));
    }
    expect(lines.filter((l) => l.streamId === missing || l.streamId === notVideo)).toEqual([]);
  });

  it.each([
    [['--every', '0'], /--every: expected a positive integer, got "0"/],
    [['--every', '2', '--fps', '1'], /--every and --fps are alternatives/],
    [['--fps', 'fast'], /--fps: expected a positive number/],
    [['--format', 'xml'], /--format: expected jsonl or csv, got "xml"/],
    [['--input-path', 'mmap'], /--input-path: expected direct or infer, got "mmap"/],
    [['--top-k', '-3'], /--top-k/],
    [['--model', 'vit-nonexistent'], /unknown model 'vit-nonexistent'/],
    [['--precision', 'fp64'], /--precision: expected fp32, fp16 or int8/],
    [['--no-such-flag'], /unknown option '--no-such-flag'/],
    [
      ['--out', '/nonexistent-dir/x.jsonl'],
      /cannot write predictions to \/nonexistent-dir\/x\.jsonl: ENOENT/,
    ],
  ])('bad flags %j: one clear message, exit code 2, no stack trace', async (flags, message) => {
    const args = ['classify', clip('person_signing_640x480.mkv'), ...model.args, ...flags];
    // --model given twice: commander keeps the last, so the bad one wins.
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stdout).toBe('');
  });
});

describe('vitstream classify never damages an existing output (issue #20 item 7, issue #25 items 1 and 4)', () => {
  const PRECIOUS = '{"precious":1}\n';
  const preciousFile = (name: string) => {
    const dir = mkdtempSync(path.join(tmp, 'out-'));
    const file = path.join(dir, name);
    writeFileSync(file, PRECIOUS);
    return { dir, file };
  };

  it('a model that fails to load leaves --out as it was, and no temporary file', async () => {
    const { dir, file } = preciousFile('prev.jsonl');
    const r = await runCli([
      'classify',
      clip('street_bikes_640x272.mp4'),
      '--model',
      model.dir,
      '--weights',
      path.join(tmp, 'no-such-weights.safetensors'),
      '--out',
      file,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no-such-weights\.safetensors/);
    expect(r.stderr).not.toMatch(STACK);
    expect(readFileSync(file, 'utf8')).toBe(PRECIOUS);
    expect(readdirSync(dir)).toEqual(['prev.jsonl']);
  });

  it('a missing input is named before the model is loaded (the weights here are missing too), --out untouched', async () => {
    const { file } = preciousFile('prev.jsonl');
    const missing = path.join(tmp, 'missing.mp4');
    const r = await runCli([
      'classify',
      missing,
      '--model',
      model.dir,
      '--weights',
      path.join(tmp, 'no-such-weights.safetensors'),
      '--out',
      file,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`vitstream: ${missing}: no such file`);
    expect(readFileSync(file, 'utf8')).toBe(PRECIOUS);
  });

  it('Ctrl-C (SIGINT) mid-run: the whole lines so far replace --out, exit 130, no temporary file left', async () => {
    const { dir, file } = preciousFile('prev.jsonl');
    const cli = startCli([
      'classify',
      clip('street_bikes_640x272.mp4'),
      ...model.args,
      '--backend',
      'cpu',
      '--out',
      file,
    ]);
    try {
      // Progress lines (no terminal here) say when predictions are being written.
      await cli.waitForStderr(/: 10% \(/, 120_000);
      cli.child.kill('SIGINT');
      const { code } = await cli.exited;
      expect(code).toBe(130);
    } finally {
      cli.kill();
    }
    const text = readFileSync(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as Line);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.map((l) => l.frame)).toEqual(lines.map((_, i) => i));
    expect(readdirSync(dir)).toEqual(['prev.jsonl']);
  });

  it('a full disk (RLIMIT_FSIZE of 3000 bytes) ends in one line, exit 2, and --out holds whole lines only', async () => {
    const { dir, file } = preciousFile('prev.jsonl');
    // The CPU backend: the WebGPU stack maps files of its own, and the size limit kills it (SIGBUS).
    const args = [
      'classify',
      clip('street_bikes_640x272.mp4'),
      ...model.args,
      '--backend',
      'cpu',
      '--out',
      file,
    ];
    const child = spawn('prlimit', ['--fsize=3000', process.execPath, cliPath, ...args]);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toMatch(STACK);
    expect(code).toBe(2);
    expect(
      stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('vitstream: ')),
    ).toEqual([expect.stringMatching(/^vitstream: cannot write predictions to .*prev\.jsonl: .*EFBIG/)]);
    const text = readFileSync(file, 'utf8');
    expect(text.length).toBeGreaterThan(0);
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text.endsWith('\n')).toBe(true);
    const lines = text
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as Line);
    expect(lines.map((l) => l.frame)).toEqual(lines.map((_, i) => i));
    expect(readdirSync(dir)).toEqual(['prev.jsonl']);
  });
});

describe('vitstream classify agrees with the golden logits of the checkpoint', () => {
  // logits.npy rows are frames extracted with ffmpeg `fps=1,scale=32:32:flags=area`: slot s of the
  // fps filter (round=near) holds the last frame whose time is before s + 0.5 s. The CLI scales with
  // bilinear (it has no flag for swscale's algorithm) so logits differ a little: the test classifies
  // every frame of three clips, picks the golden frames by that rule, and compares probabilities.
  const clips = ['airplane_field_640x360.mp4', 'street_bikes_640x272.mp4', 'person_signing_640x480.mkv'];

  it('top-1 agrees on >= 90% of the golden frames; probabilities are close', async () => {
    const out = path.join(tmp, 'all-frames.jsonl');
    // `--model FOLDER` alone, as a downloaded checkpoint folder is used: the weights are the model.safetensors beside config.json.
    const r = await runCli(
      ['classify', ...clips.map(clip), '--model', model.dir, '--top-k', '10', '--out', out],
      {
        timeoutMs: 90_000,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = readJsonl(out);
    const golden = readNpy(model.file('logits.npy'));
    const [, C] = golden.shape as [number, number];
    const rows = readFileSync(model.file('frames.tsv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t'))
      .filter(([, name]) => clips.includes(name!));
    expect(rows.length).toBeGreaterThan(20);

    let agree = 0;
    let l1Sum = 0;
    for (const [row, name, second] of rows) {
      const times = lines.filter((l) => l.streamId === clip(name!));
      const ours = times.filter((l) => l.ptsMs < (Number(second) + 0.5) * 1000).at(-1)!;
      const logits = Array.from(golden.data.subarray(Number(row) * C, (Number(row) + 1) * C));
      const max = Math.max(...logits);
      const z = logits.reduce((a, v) => a + Math.exp(v - max), 0);
      const p = logits.map((v) => Math.exp(v - max) / z);
      if (p.indexOf(Math.max(...p)) === ours.top[0]!.index) agree++;
      for (const t of ours.top) l1Sum += Math.abs(t.score - p[t.index]!);
    }
    expect(agree / rows.length).toBeGreaterThanOrEqual(0.9);
    // Mean L1 distance between probability vectors (measured ~0.04 with bilinear vs area scaling).
    expect(l1Sum / rows.length).toBeLessThan(0.1);
  });
});
