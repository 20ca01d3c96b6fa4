import { execFile } from 'node:child_process';
import { resolveFfmpeg } from './ffmpeg.js';
import { guarded } from './spawn.js';

export interface MediaInfo {
  /** Container duration, when ffmpeg reports one (not for live or piped input). */
  durationMs?: number;
  /** The video stream's nominal frame rate. */
  fps?: number;
  /** durationMs × fps, rounded: an estimate for progress bars, not a count. */
  estimatedFrames?: number;
}

/**
 * What ffmpeg says about an input without decoding it (`ffmpeg -i`, which prints the header and
 * exits). Only for progress display: failures return {} and the decode reports the real error.
 */
export async function probeMedia(input: string, timeoutMs = 10_000): Promise<MediaInfo> {
  // Standard input can be read once, by the decoder: a probe would wait on a pipe nobody writes to, or steal
  // the stream's first bytes.
  if (input === '-' || input.startsWith('pipe:')) return {};
  const ff = await resolveFfmpeg().catch(() => undefined);
  if (!ff) return {};
  const stderr = await new Promise<string>((resolve) => {
    // Guarded like the decoder: the timeout below is enforced by this process, so without the
    // guard an ffmpeg stuck on a silent URL would outlive a parent killed by SIGKILL.
    const [file, ...args] = guarded(ff.path, ['-hide_banner', '-nostdin', '-i', input]);
    const child = execFile(
      file,
      args,
      // SIGKILL: an ffmpeg blocked opening a network input ignores SIGTERM.
      { timeout: timeoutMs, killSignal: 'SIGKILL' },
      (_e, _out, err) => resolve(String(err ?? '')),
    );
    child.stdin?.end();
  });
  const d = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(stderr);
  const durationMs = d ? ((Number(d[1]) * 60 + Number(d[2])) * 60 + Number(d[3])) * 1000 : undefined;
  const f = /Video:.*?, (\d+(?:\.\d+)?) fps/.exec(stderr) ?? /Video:.*?, (\d+(?:\.\d+)?) tbr/.exec(stderr);
  const fps = f ? Number(f[1]) : undefined;
  return {
    durationMs,
    fps,
    estimatedFrames: durationMs && fps ? Math.round((durationMs / 1000) * fps) : undefined,
  };
}
