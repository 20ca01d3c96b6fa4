import { execFile } from 'node:child_process';
import type { FfmpegHandle } from './ffmpeg.js';
import { guarded } from './spawn.js';

/**
 * Keyframes per second over the first `windowS` seconds of a file, from a keyframes-only decode
 * (`-skip_frame nokey`: the decoder touches nothing else, so this costs a few frames' decoding);
 * undefined when it cannot tell (fewer than two keyframes in the window, no timestamps, a failure).
 */
export async function probeKeyframeRate(
  ff: FfmpegHandle,
  input: string,
  windowS = 30,
  timeoutMs = 10_000,
): Promise<number | undefined> {
  const args = [
    '-hide_banner',
    '-nostdin',
    '-skip_frame',
    'nokey',
    '-i',
    input,
    '-t',
    String(windowS),
    '-map',
    '0:v:0',
    '-vf',
    'showinfo=checksum=0',
    '-f',
    'null',
    '-',
  ];
  const stderr = await new Promise<string>((resolve) => {
    const [file, ...rest] = guarded(ff.path, args);
    const child = execFile(
      file as string,
      rest,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 8 << 20 },
      (_e, _out, err) => resolve(String(err ?? '')),
    );
    child.stdin?.end();
  });
  return keyframeRate(stderr);
}

/** Keyframes per second from showinfo's lines of a keyframes-only decode. */
export function keyframeRate(showinfo: string): number | undefined {
  const times = [...showinfo.matchAll(/\] n:\s*\d+ pts:\s*-?\d+\s+pts_time:(-?[\d.]+)/g)].map((m) =>
    Number(m[1]),
  );
  if (times.length < 2) return undefined;
  const span = (times[times.length - 1] as number) - (times[0] as number);
  return span > 0 ? (times.length - 1) / span : undefined;
}

/**
 * The rule for decoding keyframes only without being asked: a file sampled at `fps` frames a second
 * or fewer, where keyframes come at least that often. Every wanted frame then has a keyframe within
 * 1/fps of it, and the rest of the decoding is saved.
 */
export function keyframesSuffice(sampleFps: number, keyframesPerSecond: number | undefined): boolean {
  return keyframesPerSecond !== undefined && sampleFps <= keyframesPerSecond;
}
