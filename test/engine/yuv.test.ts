import { describe, expect, it } from 'vitest';
import { parseViTConfig } from '../../src/engine/config.js';
import { checkInput } from '../../src/engine/input.js';
import { patchify } from '../../src/engine/reference.js';
import type { EngineInput, YuvColor } from '../../src/engine/types.js';
import { yuvFrameBytes, yuvToRgb, yuvToRgbBytes } from '../../src/engine/yuv.js';
import { EngineError } from '../../src/errors.js';

const COLORS: YuvColor[] = [
  { matrix: 'bt601', range: 'limited' },
  { matrix: 'bt601', range: 'full' },
  { matrix: 'bt709', range: 'limited' },
  { matrix: 'bt709', range: 'full' },
];

/** One 2x2 frame of a single colour: one chroma sample, so NV12 and yuv420p bytes agree. */
function solid(y: number, u: number, v: number): Uint8Array {
  return Uint8Array.from([y, y, y, y, u, v]);
}

/**
 * R'G'B' in [0, 255] from the standard's own equations, in float64: E'Y = Kr R + Kg G + Kb B,
 * E'Cb = (B - E'Y) / (2 (1 - Kb)), E'Cr = (R - E'Y) / (2 (1 - Kr)), solved for R, G, B, with the
 * quantisation of ITU-R BT.601/709 (limited: Y = 219 E'Y + 16, C = 224 E'C + 128) or full range.
 */
function standardRgb(y: number, u: number, v: number, color: YuvColor): number[] {
  const [kr, kb] = color.matrix === 'bt601' ? [0.299, 0.114] : [0.2126, 0.0722];
  const kg = 1 - kr - kb;
  const limited = color.range === 'limited';
  const ey = limited ? (y - 16) / 219 : y / 255;
  const cb = limited ? (u - 128) / 224 : (u - 128) / 255;
  const cr = limited ? (v - 128) / 224 : (v - 128) / 255;
  const r = ey + 2 * (1 - kr) * cr;
  const b = ey + 2 * (1 - kb) * cb;
  const g = (ey - kr * r - kb * b) / kg;
  return [r, g, b].map((x) => Math.min(1, Math.max(0, x)) * 255);
}

describe('YUV 4:2:0 to RGB on the CPU (the reference)', () => {
  it('sizes frames as Y plus two chroma planes of ceil(W/2) x ceil(H/2)', () => {
    expect(yuvFrameBytes(224, 224)).toBe((224 * 224 * 3) / 2);
    expect(yuvFrameBytes(15, 9)).toBe(15 * 9 + 2 * 8 * 5);
  });

  it('maps BT.601 limited black and white to 0 and 255, neutral chroma to grey', () => {
    const c: YuvColor = { matrix: 'bt601', range: 'limited' };
    for (const kind of ['nv12', 'yuv420p'] as const) {
      expect([...yuvToRgbBytes(solid(16, 128, 128), kind, 2, 2, c)]).toEqual(new Array(12).fill(0));
      expect([...yuvToRgbBytes(solid(235, 128, 128), kind, 2, 2, c)]).toEqual(new Array(12).fill(255));
      expect([...yuvToRgbBytes(solid(126, 128, 128), kind, 2, 2, c).subarray(0, 3)]).toEqual([128, 128, 128]);
    }
    // Full range: 0 and 255 are black and white.
    const full: YuvColor = { matrix: 'bt709', range: 'full' };
    expect([...yuvToRgbBytes(solid(0, 128, 128), 'nv12', 2, 2, full)]).toEqual(new Array(12).fill(0));
    expect([...yuvToRgbBytes(solid(255, 128, 128), 'nv12', 2, 2, full)]).toEqual(new Array(12).fill(255));
  });

  it('gives the standard primaries: BT.601 limited (81, 90, 240) is pure red', () => {
    // The textbook 75%-free red of BT.601: Y 81, Cb 90, Cr 240 -> (255, 0, 0) within a code value.
    const red = yuvToRgb(solid(81, 90, 240), 'nv12', 2, 2, { matrix: 'bt601', range: 'limited' });
    expect(red[0]).toBeCloseTo(255, -0.5);
    expect(red[1]).toBeLessThan(1);
    expect(red[2]).toBeLessThan(1);
  });

  it.each(COLORS)('agrees with the standard equations in float64: $matrix $range', (color) => {
    const samples = [
      [16, 128, 128],
      [235, 128, 128],
      [81, 90, 240],
      [145, 54, 34],
      [41, 240, 110],
      [170, 166, 16],
      [100, 200, 60],
      [0, 0, 255],
      [255, 255, 0],
    ];
    for (const kind of ['nv12', 'yuv420p'] as const)
      for (const [y, u, v] of samples) {
        const got = yuvToRgb(solid(y, u, v), kind, 2, 2, color);
        const want = standardRgb(y, u, v, color);
        for (let p = 0; p < 4; p++)
          for (let c = 0; c < 3; c++)
            expect(got[p * 3 + c], `${kind} ${y},${u},${v} ch ${c}`).toBeCloseTo(want[c], 3);
      }
  });

  it('replicates each chroma sample over its 2x2 block, odd edges included (3x3 frame)', () => {
    // Y all 126 (grey luma), chroma samples of a 2x2 grid: (0,0) red-ish, (1,0) blue-ish, (0,1), (1,1).
    const y = new Array(9).fill(126);
    const u = [90, 240, 128, 54];
    const v = [240, 110, 128, 34];
    const color: YuvColor = { matrix: 'bt709', range: 'limited' };
    const nv12 = Uint8Array.from([...y, ...u.flatMap((x, i) => [x, v[i]])]);
    const i420 = Uint8Array.from([...y, ...u, ...v]);
    const a = yuvToRgb(nv12, 'nv12', 3, 3, color);
    expect(yuvToRgb(i420, 'yuv420p', 3, 3, color)).toEqual(a);
    const sampleOf = (px: number, py: number) => (py >> 1) * 2 + (px >> 1);
    for (let py = 0; py < 3; py++)
      for (let px = 0; px < 3; px++) {
        const s = sampleOf(px, py);
        const want = standardRgb(126, u[s], v[s], color);
        for (let c = 0; c < 3; c++) expect(a[(py * 3 + px) * 3 + c]).toBeCloseTo(want[c], 3);
      }
  });
});

describe('engine input checks for YUV frames', () => {
  const config = parseViTConfig({
    name: 'tiny-yuv',
    image_size: 16,
    patch_size: 8,
    hidden_size: 8,
    num_heads: 2,
    num_layers: 1,
    mlp_dim: 16,
    num_classes: 3,
  });
  const per = yuvFrameBytes(16, 16);
  const err = (input: unknown) => {
    try {
      checkInput(config, input as EngineInput, 'test');
    } catch (e) {
      return e as EngineError;
    }
    throw new Error('accepted');
  };

  it('takes NV12 and yuv420p of W*H*3/2 bytes a frame, with or without a colour', () => {
    checkInput(config, { kind: 'nv12', data: new Uint8Array(2 * per), count: 2 });
    checkInput(config, {
      kind: 'yuv420p',
      data: new Uint8Array(per),
      count: 1,
      color: { matrix: 'bt709', range: 'full' },
    });
  });

  it('names the wrong length, the unknown matrix or range, and a wrong array type', () => {
    const short = err({ kind: 'nv12', data: new Uint8Array(per * 2 - 1), count: 2 });
    expect(short).toBeInstanceOf(EngineError);
    expect(short.message).toMatch(/test: nv12 frames of 16x16 take 384 bytes each .* 2 need 768, got 767/);
    expect(short.input).toBe('data');
    // RGB-sized data handed over as NV12 (a decoder left at rgb24).
    expect(err({ kind: 'nv12', data: new Uint8Array(16 * 16 * 3), count: 1 }).message).toMatch(/got 768/);
    const matrix = err({
      kind: 'nv12',
      data: new Uint8Array(per),
      count: 1,
      color: { matrix: 'bt2020', range: 'full' },
    });
    expect(matrix.message).toBe(`test: color.matrix must be 'bt601' or 'bt709', got "bt2020"`);
    expect(matrix.input).toBe('color.matrix');
    const range = err({ kind: 'yuv420p', data: new Uint8Array(per), count: 1, color: { matrix: 'bt709' } });
    expect(range.message).toBe(`test: color.range must be 'limited' or 'full', got undefined`);
    expect(err({ kind: 'nv12', data: new Uint8Array(per), count: 1, color: 'bt709' }).input).toBe('color');
    expect(err({ kind: 'nv12', data: new Float32Array(per), count: 1 }).message).toMatch(
      /kind 'nv12' takes a Uint8Array, got Float32Array/,
    );
    expect(err({ kind: 'yuv444p', data: new Uint8Array(per), count: 1 }).input).toBe('kind');
    // One colour per frame: as many as frames, each checked.
    const bt709 = { matrix: 'bt709', range: 'full' };
    checkInput(config, {
      kind: 'nv12',
      data: new Uint8Array(2 * per),
      count: 2,
      color: [bt709, bt709],
    } as EngineInput);
    expect(err({ kind: 'nv12', data: new Uint8Array(2 * per), count: 2, color: [bt709] }).message).toMatch(
      /color must be one colour or one per frame \(2\), got 1/,
    );
    const second = err({
      kind: 'nv12',
      data: new Uint8Array(2 * per),
      count: 2,
      color: [bt709, { matrix: 'bt709', range: 'tv' }],
    });
    expect(second.input).toBe('color[1].range');
  });

  it('feeds the CPU backend the reference conversion: patchify of NV12 = patchify of its RGB', () => {
    const data = Uint8Array.from({ length: per }, (_, i) => (i * 37 + 11) & 0xff);
    const color: YuvColor = { matrix: 'bt709', range: 'limited' };
    const rgb = yuvToRgb(data, 'nv12', 16, 16, color);
    // The RGB as float pixels, normalised as uint8 RGB would be.
    const pixels = new Float32Array(3 * 16 * 16);
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < 256; i++)
        pixels[c * 256 + i] = (rgb[i * 3 + c] / 255 - config.mean[c]) / config.std[c];
    const a = patchify(config, { kind: 'nv12', data, count: 1, color });
    const b = patchify(config, { kind: 'pixels', data: pixels, count: 1 });
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
  });
});
