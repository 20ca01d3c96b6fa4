import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { Subscription } from 'rxjs';
import { formatTable } from '../src/util/table.js';
import type { PixelFormat } from '../src/video/args.js';
import { decodeFrames } from '../src/video/decodeFrames.js';
import type { FfmpegHandle } from '../src/video/ffmpeg.js';
import { type Hwaccel, nvdecSupport } from '../src/video/hwaccel.js';

export interface ParallelDecodeOptions {
  file: string;
  ffmpeg: FfmpegHandle;
  hwaccels: Hwaccel[];
  pixelFormats: PixelFormat[];
  /** Decodes at once of the same file, e.g. [1, 4, 8, 16]. */
  parallel: number[];
  /** Frames each decode takes from the start of the file. */
  frames: number;
  size: number;
}

export interface ParallelDecodeRow {
  hwaccel: Hwaccel;
  pixelFormat: PixelFormat;
  parallel: number;
  frames: number;
  seconds: number;
  /** Aggregate frames/s of the P decodes. */
  fps: number;
  /** CPU time of the whole machine per frame (/proc/stat), ms; undefined where /proc/stat is missing. */
  cpuMsPerFrame?: number;
  /** Why the row could not run (NVDEC missing). */
  skipped?: string;
}

/** Busy CPU time of the whole machine so far, ms (user+nice+system+irq+softirq+steal), from /proc/stat. */
function busyCpuMs(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    // USER_HZ is 100 on every Linux port Node runs on.
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 10;
  } catch {
    return undefined;
  }
}

/** One decode of the first `frames` frames, released as they come; resolves with the count. */
function decodeOnce(o: ParallelDecodeOptions, hwaccel: Hwaccel, pixelFormat: PixelFormat): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    let done = false;
    let sub: Subscription | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      sub?.unsubscribe();
      resolve(n);
    };
    sub = decodeFrames(o.file, {
      size: o.size,
      hwaccel,
      pixelFormat,
      maxUnreleased: 4,
      ffmpeg: o.ffmpeg,
    }).subscribe({
      next: (f) => {
        n++;
        f.release?.();
        if (n >= o.frames) finish();
      },
      error: reject,
      complete: finish,
    });
    if (done) sub.unsubscribe();
  });
}

/**
 * P decodes of the same file at once, for each hwaccel x pixel format x P: aggregate frames/s and
 * CPU ms per frame (the whole machine's, so ffmpeg's threads and Node's reading are both in it).
 */
export async function benchParallelDecode(o: ParallelDecodeOptions): Promise<ParallelDecodeRow[]> {
  const rows: ParallelDecodeRow[] = [];
  const nvdec = await nvdecSupport(o.ffmpeg);
  for (const hwaccel of o.hwaccels)
    for (const pixelFormat of o.pixelFormats)
      for (const parallel of o.parallel) {
        if (hwaccel === 'cuda' && !nvdec.available) {
          rows.push({ hwaccel, pixelFormat, parallel, frames: 0, seconds: 0, fps: 0, skipped: nvdec.reason });
          continue;
        }
        const cpu0 = busyCpuMs();
        const t0 = performance.now();
        const counts = await Promise.all(
          Array.from({ length: parallel }, () => decodeOnce(o, hwaccel, pixelFormat)),
        );
        const seconds = (performance.now() - t0) / 1000;
        const cpu1 = busyCpuMs();
        const frames = counts.reduce((a, b) => a + b, 0);
        rows.push({
          hwaccel,
          pixelFormat,
          parallel,
          frames,
          seconds,
          fps: frames / seconds,
          cpuMsPerFrame:
            cpu0 !== undefined && cpu1 !== undefined && frames > 0 ? (cpu1 - cpu0) / frames : undefined,
        });
      }
  return rows;
}

export function formatParallelDecode(o: ParallelDecodeOptions, rows: ParallelDecodeRow[]): string {
  const head = `decode: ${o.file}, first ${o.frames} frames per decode to ${o.size}x${o.size}; ffmpeg ${o.ffmpeg.version} (${o.ffmpeg.path}); ${cpus().length} CPU cores`;
  const table = formatTable(
    ['hwaccel', 'pixels', 'P', 'frames', 's', 'frames/s', 'CPU ms/frame'],
    rows.map((r) =>
      r.skipped
        ? [r.hwaccel, r.pixelFormat, r.parallel, '-', '-', 'unavailable', '-']
        : [
            r.hwaccel,
            r.pixelFormat,
            r.parallel,
            r.frames,
            r.seconds.toFixed(2),
            r.fps.toFixed(0),
            r.cpuMsPerFrame === undefined ? '-' : r.cpuMsPerFrame.toFixed(2),
          ],
    ),
  );
  const skipped = rows.find((r) => r.skipped)?.skipped;
  return `${head}\n${table}\nP decodes of the same file at once, each from its start (ffmpeg start-up included); frames/s is their sum; CPU ms/frame is the whole machine's busy time (/proc/stat) per frame.\n${skipped ? `NVDEC unavailable: ${skipped}\n` : ''}`;
}
