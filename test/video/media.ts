import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Runs ffmpeg (the system one) and returns stdout; throws with stderr on failure. */
export function ffmpeg(args: string[], input?: Buffer): Buffer {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], {
    input,
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return r.stdout;
}

/** ffprobe's per-frame `fields` of the first video stream, one row of strings a frame (ffmpeg's view, not vitstream's). */
export function ffprobeFrameRows(file: string, fields: string[]): string[][] {
  const out = execFileSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      `frame=${fields.join(',')}`,
      '-of',
      'csv=p=0',
      file,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  return out
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(','));
}

/** Every frame's pts in ms, frames without a pts left out. */
export function ffprobeFramesPtsMs(file: string): number[] {
  return ffprobeFrameRows(file, ['pts_time'])
    .filter(([pts]) => /^\d/.test(pts))
    .map(([pts]) => Math.round(Number(pts) * 1e6) / 1e3);
}

/** ffmpeg's own raw RGB24 output for `file` through `vf`, split into frames. */
export function referenceFrames(file: string, vf: string, width: number, height: number): Buffer[] {
  const raw = ffmpeg([
    '-i',
    file,
    '-map',
    '0:v:0',
    '-fps_mode',
    'passthrough',
    '-vf',
    vf,
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-',
  ]);
  const n = width * height * 3;
  const frames: Buffer[] = [];
  for (let off = 0; off + n <= raw.length; off += n) frames.push(raw.subarray(off, off + n));
  return frames;
}

export class TempDir {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'vitstream-video-'));
  file(name: string): string {
    return path.join(this.dir, name);
  }
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A short synthetic clip (testsrc2 has moving, colourful content). */
export function makeClip(
  out: string,
  opts: { size?: string; rate?: number; frames?: number; codec?: string[]; extra?: string[] } = {},
): string {
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${opts.size ?? '160x120'}:rate=${opts.rate ?? 25}`,
    '-frames:v',
    String(opts.frames ?? 30),
    ...(opts.codec ?? ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p']),
    ...(opts.extra ?? []),
    out,
  ]);
  return out;
}

/** ffmpeg children of this process still alive (zombies excluded). */
export function ffmpegChildren(): number[] {
  const r = spawnSync('pgrep', ['-P', String(process.pid), 'ffmpeg']);
  return r.stdout.toString().trim().split('\n').filter(Boolean).map(Number);
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}
