import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ViTConfig } from '../engine/config.js';
import { InputError } from '../errors.js';
import { readNpy } from '../util/npy.js';
import { decodeFrames } from '../video/decodeFrames.js';

/** What a folder may hold for calibration; anything else in it (READMEs, licences) is skipped. */
const STILL = /\.(jpe?g|png|bmp|webp|tiff?)$/i;
const MEDIA = /\.(npy|mp4|m4v|mkv|mov|avi|webm|ts|flv|mpg|mpeg|y4m|jpe?g|png|bmp|webp|gif|tiff?)$/i;

export interface CalibrationFrames {
  /** uint8 RGB [count, S, S, 3]. */
  data: Uint8Array;
  count: number;
  /** Frames taken from each source, for reports. */
  perSource: { source: string; frames: number }[];
}

/**
 * Calibration frames for `calibrate` (the engine's, which takes frames): read and decoded here, above
 * the engine, which knows nothing of files or video.
 * Calibration images: `.npy` files of uint8 RGB [N, S, S, 3] (or one [S, S, 3] image) at the
 * model's size, and anything else (videos, still images) decoded by ffmpeg at the model's size.
 * Folders are expanded to the media files they hold (not recursively, sorted). At most `maxFrames` in all, shared evenly
 * among the sources, a source's unused share passing to the next; from a video, frames are picked evenly over its whole length.
 */
export async function loadCalibrationFrames(
  config: ViTConfig,
  inputs: string[],
  maxFrames = 128,
): Promise<CalibrationFrames> {
  const S = config.imageSize;
  const frameBytes = S * S * 3;
  const files = inputs.flatMap((p) => {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      throw new InputError(`calibration input ${p}: no such file or folder`, { input: p });
    }
    if (!st.isDirectory()) return [p];
    return readdirSync(p)
      .filter((f) => MEDIA.test(f))
      .sort()
      .map((f) => path.join(p, f))
      .filter((f) => statSync(f).isFile());
  });
  if (files.length === 0)
    throw new InputError(`calibration inputs ${inputs.join(', ')}: no files found`, {
      input: inputs.join(','),
    });
  // Still images first: each gives one frame, and what its share leaves over goes to the sources after it
  // (a clip and a PNG with --frames 64 gave 33 frames when shares were fixed up front).
  const ordered = [...files.filter((f) => STILL.test(f)), ...files.filter((f) => !STILL.test(f))];
  const chunks: Uint8Array[] = [];
  const perSource: CalibrationFrames['perSource'] = [];
  let total = 0;
  for (const [i, file] of ordered.entries()) {
    if (total >= maxFrames) break;
    const want = Math.max(1, Math.ceil((maxFrames - total) / (ordered.length - i)));
    const frames = file.toLowerCase().endsWith('.npy')
      ? npyFrames(file, S, want)
      : await videoFrames(file, S, want);
    chunks.push(...frames);
    perSource.push({ source: file, frames: frames.length });
    total += frames.length;
  }
  if (total === 0)
    throw new InputError(`calibration inputs ${inputs.join(', ')}: no frames decoded`, {
      input: inputs.join(','),
    });
  const data = new Uint8Array(total * frameBytes);
  for (const [i, c] of chunks.entries()) data.set(c, i * frameBytes);
  return { data, count: total, perSource };
}

function npyFrames(file: string, S: number, want: number): Uint8Array[] {
  const a = readNpy(file);
  const shape = a.shape.length === 3 ? [1, ...a.shape] : a.shape;
  if (a.dtype !== 'uint8' || shape.length !== 4 || shape[1] !== S || shape[2] !== S || shape[3] !== 3)
    throw new InputError(
      `${file}: uint8 RGB [N, ${S}, ${S}, 3] expected (the model's input size), got ${a.dtype} [${a.shape.join(', ')}]`,
      { input: file },
    );
  const n = shape[0];
  const frameBytes = S * S * 3;
  return evenly(n, want).map((i) => (a.data as Uint8Array).slice(i * frameBytes, (i + 1) * frameBytes));
}

/** Indices of `want` items spread evenly over `n`. */
function evenly(n: number, want: number): number[] {
  if (want >= n) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: want }, (_, i) => Math.floor(((i + 0.5) * n) / want));
}

/**
 * Decodes every frame (the length is unknown up front) but keeps a fixed number: when the
 * buffer is full, every other frame is dropped and the keep-stride doubles, which leaves frames
 * spread evenly over the whole video in at most 2 x want memory.
 */
async function videoFrames(file: string, S: number, want: number): Promise<Uint8Array[]> {
  const kept: Uint8Array[] = [];
  let stride = 1;
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    decodeFrames(file, { size: S }).subscribe({
      next: (f) => {
        if (seen++ % stride === 0) {
          kept.push(f.rgb.slice());
          if (kept.length >= 2 * want) {
            for (let i = 0; i < want; i++) kept[i] = kept[2 * i];
            kept.length = want;
            stride *= 2;
          }
        }
        f.release?.();
      },
      error: reject,
      complete: resolve,
    });
  });
  return kept.length <= want ? kept : evenly(kept.length, want).map((i) => kept[i]);
}
