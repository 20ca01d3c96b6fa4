import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VideoSourceError } from '../src/errors.js';
import { packageRoot } from '../src/util/paths.js';
import { decodeFrames } from '../src/video/decodeFrames.js';
import { type FfmpegHandle, resolveFfmpeg } from '../src/video/ffmpeg.js';

/** The shared clip the benchmark upscales: VITSTREAM_SHARED/media/bottles_640x360.mp4, or ../shared beside the checkout. */
function sharedClip(): string {
  const shared = process.env.VITSTREAM_SHARED ?? path.resolve(packageRoot(), '..', 'shared');
  const p = path.join(shared, 'media', 'bottles_640x360.mp4');
  if (!existsSync(p))
    throw new VideoSourceError(`benchmark input missing: ${p}; pass a video file or set VITSTREAM_SHARED`, {
      input: p,
    });
  return p;
}

export interface BenchDecodeOptions {
  /** Input video; default: a 1080p H.264 clip generated from the shared bottles clip in a temp dir. */
  file?: string;
  /** Frames to decode (default 300). */
  frames?: number;
  /** Output size (default 224). */
  size?: number;
  /** Print the table (default true). */
  print?: boolean;
}

export interface BenchDecodeRow {
  what: string;
  frames: number;
  seconds: number;
  fps: number;
}

export interface BenchDecodeResult {
  file: string;
  rows: BenchDecodeRow[];
  /** decodeFrames fps / bare ffmpeg fps. */
  ratio: number;
}

function run(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => {
      err = (err + d).slice(-2000);
    });
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new VideoSourceError(
              `making the benchmark clip: ${bin} ${args.join(' ')} exited ${code}: ${err}`,
            ),
          ),
    );
  });
}

/**
 * Bare ffmpeg, same scaling as decodeFrames (bilinear; ffmpeg's default, bicubic, made the bare run
 * the slower one), raw RGB into a pipe that Node drains and discards.
 */
async function bareFfmpeg(bin: string, file: string, frames: number, size: number): Promise<BenchDecodeRow> {
  const t0 = performance.now();
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    const p = spawn(
      bin,
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-i',
        file,
        '-frames:v',
        String(frames),
        '-vf',
        `scale=${size}:${size}:flags=bilinear`,
        '-f',
        'rawvideo',
        '-pix_fmt',
        'rgb24',
        '-',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    p.stderr.on('data', (d) => {
      err = (err + d).slice(-2000);
    });
    p.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
    });
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new VideoSourceError(`${file}: bare ffmpeg exited ${code}: ${err.trim()}`, { input: file })),
    );
  });
  const seconds = (performance.now() - t0) / 1000;
  const n = bytes / (size * size * 3);
  return {
    what: `ffmpeg -vf scale=${size}:${size}:flags=bilinear -f rawvideo (pipe)`,
    frames: n,
    seconds,
    fps: n / seconds,
  };
}

async function viaDecodeFrames(file: string, frames: number, size: number): Promise<BenchDecodeRow> {
  const t0 = performance.now();
  let n = 0;
  await new Promise<void>((resolve, reject) => {
    const sub = decodeFrames(file, { size, maxUnreleased: 4 }).subscribe({
      next: (f) => {
        n++;
        f.release?.();
        if (n === frames) {
          sub?.unsubscribe();
          resolve();
        }
      },
      error: reject,
      complete: resolve,
    });
  });
  const seconds = (performance.now() - t0) / 1000;
  return { what: 'decodeFrames (pooled, released)', frames: n, seconds, fps: n / seconds };
}

/** frames/s of decodeFrames versus bare ffmpeg on the same file and scaling; alternates runs to even out noise. */
export async function benchDecode(options: BenchDecodeOptions = {}): Promise<BenchDecodeResult> {
  const ff = await resolveFfmpeg();
  const size = options.size ?? 224;
  const frames = options.frames ?? 300;
  const clip = await benchClip(ff, options.file, frames);
  const file = clip.file;
  try {
    // Warm the page cache and both code paths once; decodeFrames first, whose errors say what is
    // wrong with a file (missing, not a video) in one line.
    await viaDecodeFrames(file, Math.min(frames, 30), size);
    await bareFfmpeg(ff.path, file, Math.min(frames, 30), size);
    const bare: BenchDecodeRow[] = [];
    const ours: BenchDecodeRow[] = [];
    for (let i = 0; i < 2; i++) {
      bare.push(await bareFfmpeg(ff.path, file, frames, size));
      ours.push(await viaDecodeFrames(file, frames, size));
    }
    const best = (rows: BenchDecodeRow[]) => rows.reduce((a, b) => (b.fps > a.fps ? b : a));
    const rows = [best(bare), best(ours)];
    const result = { file, rows, ratio: rows[1].fps / rows[0].fps };
    if (options.print !== false) process.stdout.write(formatTable(result));
    return result;
  } finally {
    clip.dispose();
  }
}

/**
 * The benchmark's input: `file` as given, else a 1080p H.264 clip of `frames` frames made from the
 * shared bottles clip in a temporary directory, removed by dispose().
 */
export async function benchClip(
  ff: FfmpegHandle,
  file: string | undefined,
  frames: number,
): Promise<{ file: string; dispose(): void }> {
  if (file) return { file, dispose: () => {} };
  const tmp = mkdtempSync(path.join(tmpdir(), 'vitstream-bench-'));
  const out = path.join(tmp, 'bottles_1080p.mp4');
  const dispose = () => rmSync(tmp, { recursive: true, force: true });
  try {
    await run(ff.path, [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      // Looped: a run of more frames than the shared clip has still gets them.
      '-stream_loop',
      '-1',
      '-i',
      sharedClip(),
      '-frames:v',
      String(frames),
      '-vf',
      'scale=1920:1080',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-an',
      out,
    ]);
  } catch (e) {
    dispose();
    throw e;
  }
  return { file: out, dispose };
}

export function formatTable(r: BenchDecodeResult): string {
  const lines = [
    `decode benchmark: ${r.file}`,
    `${'what'.padEnd(58)} ${'frames'.padStart(7)} ${'s'.padStart(7)} ${'fps'.padStart(8)}`,
  ];
  for (const row of r.rows)
    lines.push(
      `${row.what.padEnd(58)} ${String(row.frames).padStart(7)} ${row.seconds.toFixed(2).padStart(7)} ${row.fps.toFixed(1).padStart(8)}`,
    );
  lines.push(`decodeFrames / ffmpeg: ${(r.ratio * 100).toFixed(1)}% (target >= 90%)`);
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  benchDecode({ file }).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  });
}
