import { execFile } from 'node:child_process';
import type { FfmpegHandle } from './ffmpeg.js';
import { guarded } from './spawn.js';
import { stripPrefix } from './stderrLog.js';

/** Where frames are decoded: NVIDIA's NVDEC (`cuda`), the CPU (`none`), or NVDEC where it works (`auto`). */
export const HWACCELS = ['auto', 'cuda', 'none'] as const;
export type Hwaccel = (typeof HWACCELS)[number];
/** The decode path one ffmpeg run actually takes. */
export type DecodePath = Exclude<Hwaccel, 'auto'>;

/** Whether this ffmpeg can decode on NVDEC here, and if not, why (one line). */
export interface NvdecSupport {
  available: boolean;
  reason?: string;
}

/**
 * One 64x64 grey H.264 frame (libx264 baseline, SEI removed: 62 bytes), decoded by the probe. A
 * `data:` input needs no file and no encoder, and the minimal GPU build has the data protocol.
 */
const PROBE_H264 = 'AAAAAWdCwArZBCbARAAAAwAEAAADAAg8SJkgAAAAAWjLg8sgAAABZYiEBXyYoAAgWycnJ1111111111114A=';

/**
 * The 1-frame NVDEC decode the probe runs: the same chain, options included, a `cuda` stream uses
 * (scale_cuda, hwdownload), so that a yes means the path works: driver, CUDA kernels, and a
 * scale_cuda new enough for interp_algo and format (ffmpeg 5).
 */
export function nvdecProbeArgs(): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-hwaccel',
    'cuda',
    '-hwaccel_output_format',
    'cuda',
    '-f',
    'h264',
    '-i',
    `data:video/h264;base64,${PROBE_H264}`,
    '-vf',
    'scale_cuda=32:32:interp_algo=bilinear:format=nv12,hwdownload,format=nv12',
    '-f',
    'null',
    '-',
  ];
}

function runFfmpeg(
  bin: string,
  args: string[],
  timeoutMs: number,
): Promise<{ ok: boolean; out: string; err: string }> {
  return new Promise((resolve) => {
    const [file, ...rest] = guarded(bin, args);
    const child = execFile(
      file as string,
      rest,
      // SIGKILL: a process stuck in the driver ignores SIGTERM.
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 },
      (error, out, err) =>
        resolve({ ok: !error, out: String(out ?? ''), err: String(err ?? error?.message ?? '') }),
    );
    child.stdin?.end();
  });
}

/**
 * Asks ffmpeg whether NVDEC works: `cuda` listed by `-hwaccels`, then a 1-frame decode through
 * scale_cuda. Never rejects; a hung probe is killed after `timeoutMs` (the first scale_cuda use
 * compiles CUDA kernels, ~10 s with an empty cache, hence the generous default).
 */
export async function probeNvdec(ff: FfmpegHandle, timeoutMs = 30_000): Promise<NvdecSupport> {
  const listed = await runFfmpeg(ff.path, ['-hide_banner', '-hwaccels'], timeoutMs);
  if (!listed.ok || !/^\s*cuda\s*$/m.test(listed.out))
    return { available: false, reason: `${ff.path} does not list cuda under -hwaccels` };
  const decoded = await runFfmpeg(ff.path, nvdecProbeArgs(), timeoutMs);
  if (decoded.ok) return { available: true };
  const lines = decoded.err.split('\n').map(stripPrefix).filter(Boolean);
  return {
    available: false,
    reason: `a 1-frame NVDEC decode failed (${lines.slice(0, 2).join(' | ') || 'no message'})`,
  };
}

// Per ffmpeg binary, for the life of the process: the driver does not come and go.
const probes = new Map<string, Promise<NvdecSupport>>();

/** probeNvdec, once per ffmpeg binary per process. */
export function nvdecSupport(ff: FfmpegHandle): Promise<NvdecSupport> {
  let p = probes.get(ff.path);
  if (!p) {
    p = probeNvdec(ff);
    probes.set(ff.path, p);
  }
  return p;
}

/** The path a stream starts on: `auto` is cuda where the probe said yes. */
export async function startingPath(requested: Hwaccel, ff: FfmpegHandle): Promise<DecodePath> {
  if (requested !== 'auto') return requested;
  return (await nvdecSupport(ff)).available ? 'cuda' : 'none';
}

/**
 * Whether ffmpeg's messages say NVDEC (not the input) is what failed: no driver, a codec, profile
 * or size NVDEC lacks (4:4:4, 10-bit on old GPUs), no free decoder session. Those streams can go
 * on on the CPU.
 */
export function isNvdecFailure(lines: readonly string[]): boolean {
  return /Cannot load (libcuda|libnvcuvid)|Could not dynamically load CUDA|No device available for decoder|Device (setup|creation) failed|hwaccel initiali[sz]ation returned error|Failed setup for format cuda|Hardware is lacking required capabilities|not supported by (the )?hardware|CUDA_ERROR|cuvid|nvdec|No decoder surfaces left|Impossible to convert between the formats|Error creating a CUDA|hwupload|hwdownload/i.test(
    lines.join('\n'),
  );
}
