import { describe, expect, it } from 'vitest';
import { readViTConfigFile } from '../../src/engine/config.js';
import { createCpuEngine, erf, referenceForward } from '../../src/engine/reference.js';
import type { EngineInput } from '../../src/engine/types.js';
import { loadWeights } from '../../src/engine/weights/index.js';
import { EngineError } from '../../src/errors.js';
import { readNpy } from '../../src/util/npy.js';
import { argmaxRows, relMaxError } from '../helpers/compare.js';
import { sharedPath } from '../helpers/shared.js';

const f32 = (file: string) => readNpy(file).data as Float32Array;

describe('erf', () => {
  it('matches known values of the error function', () => {
    // erf(0.5), erf(1), erf(2), erf(3): tabulated constants (Abramowitz & Stegun table 7.1).
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(-2)).toBeCloseTo(-0.9953222650189527, 14);
    expect(erf(3)).toBeCloseTo(0.9999779095030014, 14);
    expect(erf(0)).toBe(0);
    expect(erf(10)).toBe(1);
  });
});

describe.each(['vit-tiny-test', 'vit-mini-224'])('reference forward on %s', (fixture) => {
  const dir = (f: string) => sharedPath('fixtures', fixture, f);

  it.each(['pixels', 'rgb'] as const)(
    'matches the golden intermediates and logits from %s input',
    async (kind) => {
      const config = readViTConfigFile(dir('config.json'));
      const weights = await loadWeights(dir('weights.npz'), config);
      const input: EngineInput =
        kind === 'rgb'
          ? { kind, data: readNpy(dir('rgb.npy')).data as Uint8Array, count: 4 }
          : { kind, data: f32(dir('pixel_values.npy')), count: 4 };
      const r = referenceForward(config, weights, input, { capture: true });
      expect(relMaxError(r.embeddings!, f32(dir('embeddings.npy')))).toBeLessThan(1e-4);
      expect(relMaxError(r.block0!, f32(dir('block0.npy')))).toBeLessThan(1e-4);
      expect(relMaxError(r.features!, f32(dir('features.npy')))).toBeLessThan(1e-4);
      expect(relMaxError(r.logits, f32(dir('logits.npy')))).toBeLessThan(1e-4);
    },
  );
});

describe('reference forward on the trained vit-cifar10-demo (tanh GELU, no final norm)', () => {
  const dir = (f: string) => sharedPath('models', 'vit-cifar10-demo', f);

  it('matches the golden logits and top-1 on every real frame (233)', async () => {
    const config = readViTConfigFile(dir('config.json'));
    expect(config.finalNorm).toBe(false);
    expect(config.activation).toBe('gelu_tanh');
    const weights = await loadWeights(dir('model.safetensors'), config);
    const rgb = readNpy(dir('rgb.npy'));
    const want = f32(dir('logits.npy'));
    const { logits } = referenceForward(config, weights, {
      kind: 'rgb',
      data: rgb.data as Uint8Array,
      count: rgb.shape[0],
    });
    expect(logits.length).toBe(want.length);
    expect(relMaxError(logits, want)).toBeLessThan(1e-4);
    expect(argmaxRows(logits, config.numClasses)).toEqual(argmaxRows(want, config.numClasses));
  });
});

describe('cpu engine', () => {
  const dir = (f: string) => sharedPath('fixtures', 'vit-tiny-test', f);

  it('serves the reference logits through the Engine interface and rejects bad input', async () => {
    const config = readViTConfigFile(dir('config.json'));
    const weights = await loadWeights(dir('weights.safetensors'), config);
    const engine = createCpuEngine(config, weights, { maxBatch: 4 });
    expect([engine.backend, engine.precision, engine.maxBatch]).toEqual(['cpu', 'fp32', 4]);
    const rgb = readNpy(dir('rgb.npy')).data as Uint8Array;
    const want = f32(dir('logits.npy'));
    const one = config.imageSize * config.imageSize * 3;
    const c = config.numClasses;
    // Two overlapping calls, one image each, come back in order and right.
    const [a, b] = await Promise.all([
      engine.infer({ kind: 'rgb', data: rgb.subarray(0, one), count: 1 }),
      engine.infer({ kind: 'rgb', data: rgb.subarray(one, 2 * one), count: 1 }),
    ]);
    expect(relMaxError(a, want.subarray(0, c))).toBeLessThan(1e-4);
    expect(relMaxError(b, want.subarray(c, 2 * c))).toBeLessThan(1e-4);
    await expect(engine.infer({ kind: 'rgb', data: rgb.subarray(0, one - 1), count: 1 })).rejects.toThrow(
      `needs ${one} values, got ${one - 1}`,
    );
    await expect(
      engine.infer({ kind: 'rgb', data: new Uint8Array(5 * one), count: 5 }),
    ).rejects.toBeInstanceOf(EngineError);
    await engine.close();
    await expect(engine.infer({ kind: 'rgb', data: rgb.subarray(0, one), count: 1 })).rejects.toThrow(
      /closed/,
    );
  });
});
