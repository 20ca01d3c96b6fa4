import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readViTConfigFile, type ViTConfig } from '../../src/engine/config.js';
import { beginBatch } from '../../src/engine/direct-batch.js';
import { type GpuContext, openGpu } from '../../src/engine/gpu.js';
import { createCpuEngine } from '../../src/engine/reference.js';
import type { DirectBatch, ViTWeights, YuvColor } from '../../src/engine/types.js';
import { WebGpuEngine } from '../../src/engine/webgpu-engine.js';
import { loadWeights } from '../../src/engine/weights/index.js';
import { yuvFrameBytes, yuvToRgb } from '../../src/engine/yuv.js';
import { EngineError } from '../../src/errors.js';
import { readNpy } from '../../src/util/npy.js';
import { relMaxError } from '../helpers/compare.js';
import { sharedPath } from '../helpers/shared.js';

const gpu: GpuContext = await openGpu();
const fixture = 'vit-tiny-test';

/** Deterministic bytes (no two frames alike). */
function bytes(length: number, seed: number): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s >>> 24;
  });
}

/** NV12 frames rearranged as yuv420p (the same samples, planar chroma). */
function toI420(nv12: Uint8Array, S: number, count: number): Uint8Array {
  const per = yuvFrameBytes(S, S);
  const c = Math.ceil(S / 2) ** 2;
  const out = new Uint8Array(nv12.length);
  for (let n = 0; n < count; n++) {
    const f = nv12.subarray(n * per, (n + 1) * per);
    const o = out.subarray(n * per, (n + 1) * per);
    o.set(f.subarray(0, S * S));
    for (let i = 0; i < c; i++) {
      o[S * S + i] = f[S * S + 2 * i];
      o[S * S + c + i] = f[S * S + 2 * i + 1];
    }
  }
  return out;
}

describe('YUV frames and direct writes into the WebGPU engine (fp32)', () => {
  let config: ViTConfig;
  let weights: ViTWeights;
  let engine: WebGpuEngine;
  let S: number;
  let per: number;
  beforeAll(async () => {
    config = readViTConfigFile(sharedPath('fixtures', fixture, 'config.json'));
    weights = await loadWeights(sharedPath('fixtures', fixture, 'weights.npz'), config);
    engine = await WebGpuEngine.open({ config, weights, precision: 'fp32', maxBatch: 4, gpu });
    S = config.imageSize;
    per = yuvFrameBytes(S, S);
  });
  afterAll(() => engine?.close());

  /** The reference conversion of NV12 frames, as float pixels normalised as the RGB path would. */
  function referencePixels(nv12: Uint8Array, count: number, color: YuvColor): Float32Array {
    const pixels = new Float32Array(count * 3 * S * S);
    for (let n = 0; n < count; n++) {
      const rgb = yuvToRgb(nv12.subarray(n * per, (n + 1) * per), 'nv12', S, S, color);
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < S * S; i++)
          pixels[(n * 3 + c) * S * S + i] = (rgb[i * 3 + c] / 255 - config.mean[c]) / config.std[c];
    }
    return pixels;
  }

  it.each([
    { matrix: 'bt601', range: 'limited' },
    { matrix: 'bt709', range: 'full' },
  ] as const)(
    'gives from NV12 the logits of the RGB the reference conversion makes ($matrix $range)',
    async (color) => {
      const count = 4;
      const nv12 = bytes(count * per, 3);
      const fromNv12 = await engine.infer({ kind: 'nv12', data: nv12, count, color });
      const fromPixels = await engine.infer({
        kind: 'pixels',
        data: referencePixels(nv12, count, color),
        count,
      });
      expect(relMaxError(fromNv12, fromPixels)).toBeLessThan(1e-5);
      const fromI420 = await engine.infer({ kind: 'yuv420p', data: toI420(nv12, S, count), count, color });
      expect(relMaxError(fromI420, fromNv12)).toBeLessThan(1e-6);
      // The CPU backend converts with the same reference.
      const cpu = await createCpuEngine(config, weights).infer({ kind: 'nv12', data: nv12, count, color });
      expect(relMaxError(fromNv12, cpu)).toBeLessThan(1e-4);
    },
  );

  it('takes the colour into account (one plan per colour, default BT.601 limited)', async () => {
    const nv12 = bytes(per, 5);
    const byDefault = await engine.infer({ kind: 'nv12', data: nv12, count: 1 });
    const bt601 = await engine.infer({
      kind: 'nv12',
      data: nv12,
      count: 1,
      color: { matrix: 'bt601', range: 'limited' },
    });
    const bt709 = await engine.infer({
      kind: 'nv12',
      data: nv12,
      count: 1,
      color: { matrix: 'bt709', range: 'full' },
    });
    expect(byDefault).toEqual(bt601);
    expect(relMaxError(bt709, bt601)).toBeGreaterThan(1e-3);
  });

  it('converts each frame with its own colour, through infer and in place', async () => {
    const nv12 = bytes(2 * per, 21);
    const colors: YuvColor[] = [
      { matrix: 'bt709', range: 'full' },
      { matrix: 'bt601', range: 'limited' },
    ];
    const singles = await Promise.all(
      colors.map((color, i) =>
        engine.infer({ kind: 'nv12', data: nv12.subarray(i * per, (i + 1) * per), count: 1, color }),
      ),
    );
    const C = config.numClasses;
    const mixed = await engine.infer({ kind: 'nv12', data: nv12, count: 2, color: colors });
    expect(relMaxError(mixed.subarray(0, C), singles[0])).toBeLessThan(1e-6);
    expect(relMaxError(mixed.subarray(C), singles[1])).toBeLessThan(1e-6);
    // In place: the batch's colour for frame 1, frame 0's own.
    const batch = await engine.beginBatch({ kind: 'nv12', count: 2, color: colors[1] });
    batch.frame(0, colors[0]).set(nv12.subarray(0, per));
    batch.frame(1).set(nv12.subarray(per));
    expect(await batch.submit()).toEqual(mixed);
  });

  it('gives from frames written in place exactly what infer gives (RGB and NV12)', async () => {
    const rgb = readNpy(sharedPath('fixtures', fixture, 'rgb.npy')).data as Uint8Array;
    const nv12 = bytes(4 * per, 9);
    for (const [kind, data, frameBytes] of [
      ['rgb', rgb, S * S * 3],
      ['nv12', nv12, per],
    ] as const) {
      const want = await engine.infer({ kind, data, count: 4 });
      // Twice: both slots.
      for (let round = 0; round < 2; round++) {
        const batch = await engine.beginBatch({ kind, count: 4 });
        expect(batch.frameBytes).toBe(frameBytes);
        for (let i = 0; i < 4; i++) batch.frame(i).set(data.subarray(i * frameBytes, (i + 1) * frameBytes));
        expect(await batch.submit()).toEqual(want);
      }
    }
  });

  it('runs the first frames of a batch begun for more (submit(count)), as infer does on them', async () => {
    const nv12 = bytes(4 * per, 21);
    const colors: YuvColor[] = [
      { matrix: 'bt709', range: 'full' },
      { matrix: 'bt601', range: 'limited' },
    ];
    const want = await engine.infer({
      kind: 'nv12',
      data: nv12.subarray(0, 2 * per),
      count: 2,
      color: colors,
    });
    const cpu = createCpuEngine(config, weights, { maxBatch: 4 });
    for (const e of [engine, cpu]) {
      const batch = await beginBatch(e, { kind: 'nv12', count: 4 });
      for (let i = 0; i < 2; i++) batch.frame(i, colors[i]).set(nv12.subarray(i * per, (i + 1) * per));
      const got = await batch.submit(2);
      expect(got.length).toBe(2 * config.numClasses);
      if (e === engine) expect(got).toEqual(want);
      else expect(relMaxError(got, want)).toBeLessThan(1e-4);
    }
    const batch = await engine.beginBatch({ kind: 'rgb', count: 2 });
    for (const bad of [0, 3, 1.5])
      await expect(batch.submit(bad)).rejects.toThrow(
        new RegExp(`count must be an integer from 1 to 2, got ${bad}`),
      );
    // A refused count leaves the batch open.
    batch.cancel();
  });

  it('lets no view be used after submit, and submits once', async () => {
    const batch = await engine.beginBatch({ kind: 'nv12', count: 2 });
    const view = batch.frame(1);
    expect(view.byteLength).toBe(per);
    const run = batch.submit();
    // The staging memory is unmapped: the old view is detached, frame() refuses.
    expect(view.byteLength).toBe(0);
    expect(() => batch.frame(0)).toThrow(EngineError);
    expect(() => batch.frame(0)).toThrow(/the batch was submitted; its views into staging memory are gone/);
    await expect(batch.submit()).rejects.toThrow(/already submitted/);
    await run;
  });

  it('does not hand out a slot while a batch on it is open, and gives it back on submit', async () => {
    const a = await engine.beginBatch({ kind: 'rgb', count: 1 });
    const b = await engine.beginBatch({ kind: 'rgb', count: 1 });
    let third: DirectBatch | undefined;
    const c = engine.beginBatch({ kind: 'rgb', count: 1 }).then((batch) => {
      third = batch;
      return batch;
    });
    // b's whole run (upload, forward pass, readback) goes by; c still waits for a's slot.
    await b.submit();
    expect(third).toBeUndefined();
    await a.submit();
    const batch = await c;
    expect(batch.frame(0).byteLength).toBe(S * S * 3);
    batch.cancel();
    expect(() => batch.frame(0)).toThrow(/cancelled/);
    // The cancelled slot serves the next batch.
    const rgb = readNpy(sharedPath('fixtures', fixture, 'rgb.npy')).data as Uint8Array;
    const one = rgb.subarray(0, S * S * 3);
    expect(await engine.infer({ kind: 'rgb', data: one, count: 1 })).toEqual(
      await engine.infer({ kind: 'rgb', data: one, count: 1 }),
    );
  });

  it('refuses bad batch requests with typed errors naming the field', async () => {
    const refused = async (request: unknown) => {
      const e = await engine.beginBatch(request as never).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(EngineError);
      return e as EngineError;
    };
    expect((await refused({ kind: 'pixels', count: 1 })).input).toBe('kind');
    expect((await refused({ kind: 'nv12', count: 0 })).input).toBe('count');
    expect((await refused({ kind: 'nv12', count: 5 })).message).toMatch(/from 1 to maxBatch 4, got 5/);
    expect(
      (await refused({ kind: 'nv12', count: 1, color: { matrix: 'smpte240m', range: 'full' } })).input,
    ).toBe('color.matrix');
    const ok = await engine.beginBatch({ kind: 'nv12', count: 1 });
    expect(() => ok.frame(1)).toThrow(/from 0 to 0/);
    expect(() => ok.frame(0, { matrix: 'bt2020' } as never)).toThrow(
      /color.matrix must be 'bt601' or 'bt709'/,
    );
    ok.cancel();
  });

  it('serves engines without staging memory (CPU backend) through the same batch API', async () => {
    const cpu = createCpuEngine(config, weights, { maxBatch: 2 });
    const nv12 = bytes(2 * per, 13);
    const want = await cpu.infer({ kind: 'nv12', data: nv12, count: 2 });
    const batch = await beginBatch(cpu, { kind: 'nv12', count: 2 });
    const view = batch.frame(0);
    view.set(nv12.subarray(0, per));
    batch.frame(1).set(nv12.subarray(per));
    const run = batch.submit();
    expect(view.byteLength).toBe(0);
    expect(() => batch.frame(0)).toThrow(/submitted/);
    expect(await run).toEqual(want);
    await expect(beginBatch(cpu, { kind: 'nv12', count: 3 })).rejects.toThrow(/maxBatch 2, got 3/);
    // The GPU engines' own batches come through the same door.
    const gpuBatch = await beginBatch(engine, { kind: 'nv12', count: 1 });
    expect(gpuBatch.frameBytes).toBe(per);
    gpuBatch.cancel();
  });

  it('closes with a batch still open (the batch is cancelled, close does not hang)', async () => {
    const other = await WebGpuEngine.open({ config, weights, precision: 'fp32', maxBatch: 2, gpu });
    const batch = await other.beginBatch({ kind: 'nv12', count: 2 });
    await other.close();
    expect(() => batch.frame(0)).toThrow(/cancelled/);
    await expect(other.beginBatch({ kind: 'nv12', count: 1 })).rejects.toThrow(/closed/);
  });
});
