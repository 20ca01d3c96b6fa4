import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { downscaleRgb, encodePng, thumbnailDataUrl } from '../../src/server/thumbnail.js';

/** ffmpeg decodes `input` (any format it can probe, or raw RGB if `raw` is given) to raw RGB24. */
function ffmpegRgb(input: Uint8Array, args: string[], raw?: { width: number; height: number }): Buffer {
  const source = raw ? ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${raw.width}x${raw.height}`] : [];
  return execFileSync(
    'ffmpeg',
    ['-v', 'error', ...source, '-i', '-', ...args, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    {
      input,
    },
  );
}

function testImage(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      rgb[o] = Math.floor((x * 255) / width);
      rgb[o + 1] = Math.floor((y * 255) / height);
      rgb[o + 2] = (x ^ y) & 255; // high-frequency content, where a poor resampler aliases
    }
  }
  return rgb;
}

function maxAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('thumbnails', () => {
  it('encodes PNGs that ffmpeg decodes to exactly the same pixels', () => {
    for (const [w, h] of [
      [37, 23],
      [1, 1],
      [64, 64],
    ] as const) {
      const rgb = testImage(w, h);
      const png = encodePng({ rgb, width: w, height: h });
      expect(ffmpegRgb(png, [])).toEqual(Buffer.from(rgb));
    }
  });

  it('downscales like ffmpeg area scaling (within one level), 224 to 64 and a non-square frame', () => {
    const square = testImage(224, 224);
    const ours = downscaleRgb({ rgb: square, width: 224, height: 224 }, 64);
    expect([ours.width, ours.height]).toEqual([64, 64]);
    const ref = ffmpegRgb(square, ['-vf', 'scale=64:64', '-sws_flags', 'area'], { width: 224, height: 224 });
    expect(maxAbsDiff(ours.rgb, ref)).toBeLessThanOrEqual(1);

    const wide = testImage(384, 216);
    const small = downscaleRgb({ rgb: wide, width: 384, height: 216 }, 96);
    expect([small.width, small.height]).toEqual([96, 54]);
    const ref2 = ffmpegRgb(wide, ['-vf', 'scale=96:54', '-sws_flags', 'area'], { width: 384, height: 216 });
    expect(maxAbsDiff(small.rgb, ref2)).toBeLessThanOrEqual(1);
  });

  it('never upscales and rejects pixel buffers shorter than their size', () => {
    const rgb = testImage(20, 10);
    expect(downscaleRgb({ rgb, width: 20, height: 10 }, 64).width).toBe(20);
    expect(() => downscaleRgb({ rgb, width: 40, height: 10 }, 64)).toThrow(/expected 40x10x3 = 1200 bytes/);
  });

  it('makes a PNG data URL', () => {
    const url = thumbnailDataUrl({ rgb: testImage(224, 224), width: 224, height: 224 }, 64);
    const png = Buffer.from(url.replace(/^data:image\/png;base64,/, ''), 'base64');
    expect(ffmpegRgb(png, []).length).toBe(64 * 64 * 3);
  });
});
