import { spawn } from 'node:child_process';
import { FfmpegNotFoundError } from '../errors.js';

/** A located, working ffmpeg binary. Resolve once and pass it around (or rely on the memo). */
export interface FfmpegHandle {
  path: string;
  /** Where it was found: the env var, the optional `ffmpeg-static` package, or the PATH. */
  from: 'FFMPEG_PATH' | 'ffmpeg-static' | 'PATH';
  /** e.g. "5.1.9-0+deb12u1"; major/minor parsed from it (0 when a git build reports no number). */
  version: string;
  major: number;
  minor: number;
}

export interface ResolveOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Runs `<bin> -version` and parses the banner; rejects if it cannot be executed. */
export function probeVersion(
  bin: string,
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 10_000,
): Promise<{ version: string; major: number; minor: number }> {
  return new Promise((resolve, reject) => {
    let out = '';
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(bin, ['-hide_banner', '-version'], { stdio: ['ignore', 'pipe', 'ignore'], env });
    } catch (err) {
      reject(err);
      return;
    }
    // Our own timer, not spawn's `timeout`: Node clears that one only on exit, so a binary that
    // cannot start (ffmpeg-static installed without its download) kept every command alive 10 s.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => {
      out += s;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const m = /^ffmpeg version (\S+)/m.exec(out);
      if (code !== 0 || !m) {
        reject(new Error(`"${bin} -version" exited with ${code} and printed no ffmpeg version`));
        return;
      }
      const nums = /^n?(\d+)\.(\d+)/.exec(m[1]);
      resolve({ version: m[1], major: nums ? Number(nums[1]) : 0, minor: nums ? Number(nums[2]) : 0 });
    });
  });
}

async function ffmpegStaticPath(): Promise<string | undefined> {
  try {
    // Optional dependency: absent on most installs, so a failed import is normal.
    const spec = 'ffmpeg-static';
    const mod = (await import(spec)) as { default?: unknown };
    return typeof mod.default === 'string' ? mod.default : undefined;
  } catch {
    return undefined;
  }
}

async function locate(env: NodeJS.ProcessEnv): Promise<FfmpegHandle> {
  const tried: string[] = [];
  const envPath = env.FFMPEG_PATH;
  if (envPath) {
    try {
      return { path: envPath, from: 'FFMPEG_PATH', ...(await probeVersion(envPath, env)) };
    } catch (err) {
      // An explicit choice that does not work is an error, not a reason to silently use another binary.
      throw new FfmpegNotFoundError(
        `FFMPEG_PATH=${envPath} is not a working ffmpeg (${(err as Error).message}); fix or unset it`,
        { input: envPath, cause: err },
      );
    }
  }
  tried.push('FFMPEG_PATH (not set)');
  const staticPath = await ffmpegStaticPath();
  if (staticPath) {
    try {
      return { path: staticPath, from: 'ffmpeg-static', ...(await probeVersion(staticPath, env)) };
    } catch (err) {
      tried.push(`ffmpeg-static at ${staticPath} (${(err as Error).message})`);
    }
  } else {
    tried.push('the ffmpeg-static package (not installed)');
  }
  try {
    return { path: 'ffmpeg', from: 'PATH', ...(await probeVersion('ffmpeg', env)) };
  } catch (err) {
    tried.push(`"ffmpeg" on the PATH (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  throw new FfmpegNotFoundError(
    `ffmpeg not found: tried ${tried.join(', ')}. Install ffmpeg (e.g. apt install ffmpeg), ` +
      'npm install ffmpeg-static, or set FFMPEG_PATH to the binary',
    { input: 'ffmpeg' },
  );
}

// Memoised per FFMPEG_PATH and PATH: the version check spawns a process, so do it once per process.
const memo = new Map<string, Promise<FfmpegHandle>>();

/**
 * Finds ffmpeg: `FFMPEG_PATH`, then the optional `ffmpeg-static` package, then `ffmpeg` on the PATH.
 * Rejects with FfmpegNotFoundError naming all three when none works. The result is cached.
 */
export function resolveFfmpeg(options: ResolveOptions = {}): Promise<FfmpegHandle> {
  const env = options.env ?? process.env;
  const key = `${env.FFMPEG_PATH ?? ''}\0${env.PATH ?? ''}`;
  let p = memo.get(key);
  if (!p) {
    p = locate(env);
    memo.set(key, p);
    // A failure is not cached: the user may install ffmpeg and retry in the same process.
    p.catch(() => memo.delete(key));
  }
  return p;
}

/** Arguments selecting "one output frame per decoded frame, timestamps untouched" for this version. */
export function passthroughArgs(ff: FfmpegHandle): string[] {
  // -fps_mode appeared in 5.1; -vsync passthrough is its older (now deprecated) spelling, still
  // accepted by current releases. Git builds report no version number (major 0): some are years
  // old (ffmpeg-static's 2018 "N-47683" build has no -fps_mode), so they get the old spelling.
  const hasFpsMode = ff.major > 5 || (ff.major === 5 && ff.minor >= 1);
  // The stream's own time base for the rawvideo output, not 1/frame rate: VFR frames closer
  // together than the nominal rate would share an output tick, and the muxer logs each one as an
  // error, which fails a file that decoded whole. (-1 is 'demux' before ffmpeg 7 named it.)
  const timeBase =
    ff.major >= 7 ? ['-enc_time_base', 'demux'] : ff.major >= 5 ? ['-enc_time_base', '-1'] : [];
  return [...(hasFpsMode ? ['-fps_mode', 'passthrough'] : ['-vsync', 'passthrough']), ...timeBase];
}
