import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastValueFrom, take, toArray } from 'rxjs';
import { formatTable } from '../src/util/table.js';
import { PIXEL_FORMATS, RESIZE_MODES } from '../src/video/args.js';
import { decodeFrames } from '../src/video/decodeFrames.js';

export interface DecodeCompareRow {
  resize: string;
  pixelFormat: string;
  frames: number;
  meanAbs: number;
  maxAbs: number;
  psnrDb: number;
  identical: number;
}

async function grab(
  file: string,
  size: number,
  frames: number,
  hwaccel: 'cuda' | 'none',
  resize: (typeof RESIZE_MODES)[number],
  pixelFormat: (typeof PIXEL_FORMATS)[number],
) {
  const got = await lastValueFrom(
    decodeFrames(file, { size, hwaccel, resize, pixelFormat }).pipe(take(frames), toArray()),
  );
  return got.map((f) => ({ ptsMs: f.ptsMs, bytes: Uint8Array.from(f.rgb), color: f.color }));
}

/**
 * NVDEC frames (decoded and scaled on the GPU) against the CPU path's frames of the same clip, per
 * resize mode and pixel format: the decoding is bit-exact, the scalers (scale_cuda, swscale) are not.
 */
export async function compareDecodePaths(
  file: string,
  size = 224,
  frames = 120,
): Promise<DecodeCompareRow[]> {
  const rows: DecodeCompareRow[] = [];
  for (const resize of RESIZE_MODES)
    for (const pixelFormat of PIXEL_FORMATS) {
      const gpu = await grab(file, size, frames, 'cuda', resize, pixelFormat);
      const cpu = await grab(file, size, frames, 'none', resize, pixelFormat);
      let sum = 0;
      let sq = 0;
      let max = 0;
      let same = 0;
      let n = 0;
      const count = Math.min(gpu.length, cpu.length);
      for (let i = 0; i < count; i++) {
        const a = gpu[i]!.bytes;
        const b = cpu[i]!.bytes;
        if (gpu[i]!.ptsMs !== cpu[i]!.ptsMs)
          throw new Error(`frame ${i}: pts ${gpu[i]!.ptsMs} vs ${cpu[i]!.ptsMs}`);
        for (let k = 0; k < a.length; k++) {
          const d = Math.abs(a[k]! - b[k]!);
          sum += d;
          sq += d * d;
          if (d > max) max = d;
          if (d === 0) same++;
        }
        n += a.length;
      }
      const mse = sq / Math.max(1, n);
      rows.push({
        resize,
        pixelFormat,
        frames: count,
        meanAbs: sum / Math.max(1, n),
        maxAbs: max,
        psnrDb: mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / mse),
        identical: same / Math.max(1, n),
      });
    }
  return rows;
}

export function formatDecodeCompare(file: string, rows: DecodeCompareRow[]): string {
  return `NVDEC (scale_cuda bilinear) against CPU (swscale bilinear): ${file}\n${formatTable(
    ['resize', 'pixels', 'frames', 'mean |d|', 'max |d|', 'PSNR dB', 'identical bytes'],
    rows.map((r) => [
      r.resize,
      r.pixelFormat,
      r.frames,
      r.meanAbs.toFixed(2),
      r.maxAbs,
      r.psnrDb.toFixed(1),
      `${(100 * r.identical).toFixed(0)}%`,
    ]),
  )}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/decode-compare.js <video file> [size] [frames]\n');
    process.exitCode = 2;
  } else
    compareDecodePaths(file, Number(process.argv[3] ?? 224), Number(process.argv[4] ?? 120))
      .then((rows) => process.stdout.write(formatDecodeCompare(file, rows)))
      .catch((err: Error) => {
        process.stderr.write(`${err.message}\n`);
        process.exitCode = 1;
      });
}
