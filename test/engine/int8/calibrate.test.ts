import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCalibrationFrames } from '../../../src/app/calibration-frames.js';
import { readViTConfigFile } from '../../../src/engine/config.js';
import { calibrate, calibrateOnGpu } from '../../../src/engine/int8/calibrate.js';
import { AbsHistogram } from '../../../src/engine/int8/histogram.js';
import { observeForward } from '../../../src/engine/int8/observer.js';
import { dequantizeArray, quantizeArray } from '../../../src/engine/int8/quant.js';
import { readScales, writeScales } from '../../../src/engine/int8/scales.js';
import { WebGpuEngine } from '../../../src/engine/webgpu-engine.js';
import { loadWeights } from '../../../src/engine/weights/index.js';
import { readNpy } from '../../../src/util/npy.js';
import { relMaxError } from '../../helpers/compare.js';
import { sharedPath } from '../../helpers/shared.js';
import { randFloats } from './gpu-helpers.js';

describe('histogram thresholds', () => {
  // Laplace-like values with a few large outliers, as transformer activations have.
  const values = randFloats(200_000, 41, -1, 1).map((u) => Math.sign(u) * -Math.log(1 - Math.abs(u) * 0.999));
  for (let i = 0; i < 20; i++) values[i * 1000] = 30 + i;

  it('max is the largest |x|; a percentile matches sorting, within one bin', () => {
    const h = new AbsHistogram();
    for (let i = 0; i < values.length; i += 50_000) h.add(values.subarray(i, i + 50_000));
    const sorted = Array.from(values, Math.abs).sort((a, b) => a - b);
    expect(h.absMax).toBe(sorted.at(-1));
    for (const p of [99, 99.9, 99.99]) {
      const exact = sorted[Math.ceil((sorted.length * p) / 100) - 1];
      expect(Math.abs(h.percentile(p) - exact), `p${p}`).toBeLessThanOrEqual(h.range / 2048);
    }
  });

  it('the mse threshold quantises the data with less error than the other thresholds', () => {
    const h = new AbsHistogram();
    h.add(values);
    const t = h.mseThreshold();
    // Measured on the data itself, not on the histogram the threshold came from.
    const mse = (threshold: number) => {
      const back = dequantizeArray(quantizeArray(values, threshold / 127), threshold / 127);
      return back.reduce((s, b, i) => s + (b - values[i]) ** 2, 0);
    };
    const best = mse(t);
    for (const other of [h.absMax, h.percentile(99.99), h.percentile(99.9), h.percentile(99), t / 2, t * 0.8])
      expect(best, `threshold ${t} vs ${other}`).toBeLessThanOrEqual(mse(other) * 1.02);
  });
});

describe('calibration forward pass', () => {
  it('computes the FP32 golden logits while it observes (vit-mini-224)', async () => {
    const dir = ['fixtures', 'vit-mini-224'];
    const config = readViTConfigFile(sharedPath(...dir, 'config.json'));
    const weights = await loadWeights(sharedPath(...dir, 'weights.npz'), config);
    const rgb = readNpy(sharedPath(...dir, 'rgb.npy'));
    const seen: string[] = [];
    const logits = observeForward(
      config,
      weights,
      { kind: 'rgb', data: rgb.data as Uint8Array, count: 4 },
      (l, role, x) => {
        seen.push(`${l}.${role}:${x.length}`);
      },
    );
    expect(relMaxError(logits, readNpy(sharedPath(...dir, 'logits.npy')).data)).toBeLessThan(1e-4);
    const rows = 4 * 197;
    expect(seen).toEqual(
      [0, 1].flatMap((l) => [
        `${l}.qkv:${rows * 96}`,
        `${l}.attention:${rows * 3 * 96}`,
        `${l}.proj:${rows * 96}`,
        `${l}.fc1:${rows * 96}`,
        `${l}.fc2:${rows * 384}`,
      ]),
    );
  });

  it('writes scales every method orders as max >= percentile, and reads them back checked', async () => {
    const dir = ['models', 'vit-cifar10-demo'];
    const config = readViTConfigFile(sharedPath(...dir, 'config.json'));
    const weights = await loadWeights(sharedPath(...dir, 'model.safetensors'), config);
    const frames = await loadCalibrationFrames(config, [sharedPath(...dir, 'rgb.npy')], 40);
    expect(frames.count).toBe(40);
    const byMethod = {
      max: await calibrate({ config, weights, frames: frames.data, count: frames.count, method: 'max' }),
      percentile: await calibrate({
        config,
        weights,
        frames: frames.data,
        count: frames.count,
        method: 'percentile',
        percentile: 99.9,
      }),
      mse: await calibrate({ config, weights, frames: frames.data, count: frames.count, method: 'mse' }),
    };
    for (const [l, b] of byMethod.max.blocks.entries()) {
      for (const role of ['qkv', 'proj', 'fc1', 'fc2'] as const) {
        expect(b[role].threshold).toBe(b[role].absMax);
        expect(byMethod.percentile.blocks[l][role].threshold).toBeLessThanOrEqual(b[role].absMax);
        expect(byMethod.mse.blocks[l][role].threshold).toBeLessThanOrEqual(b[role].absMax * (1 + 1e-9));
      }
    }
    // q, k and v: the largest |x| of each third of every qkv output row, over all 40 frames.
    const D = config.hiddenSize;
    const qkvMax = byMethod.max.blocks.map(() => [0, 0, 0]);
    for (let i = 0; i < frames.count; i += 8) {
      const input = {
        kind: 'rgb' as const,
        data: frames.data.subarray(i * 32 * 32 * 3, (i + 8) * 32 * 32 * 3),
        count: 8,
      };
      observeForward(config, weights, input, (l, point, x) => {
        if (point !== 'attention') return;
        for (let e = 0; e < x.length; e++) {
          const part = Math.floor((e % (3 * D)) / D);
          qkvMax[l][part] = Math.max(qkvMax[l][part], Math.abs(x[e]));
        }
      });
    }
    byMethod.max.attention?.forEach((a, l) => {
      expect([a.q.absMax, a.k.absMax, a.v.absMax], `block ${l}`).toEqual(qkvMax[l]);
      expect(a.v.threshold).toBe(a.v.absMax);
      expect(byMethod.percentile.attention?.[l].k.threshold).toBeLessThanOrEqual(a.k.absMax);
    });
    expect(byMethod.max.attention).toHaveLength(config.numLayers);
    // Weight scales: per output column, its largest |w| / 127.
    const w = weights.blocks[0].fc1Kernel.data;
    const col = (n: number) =>
      Math.max(...Array.from({ length: config.hiddenSize }, (_, k) => Math.abs(w[k * config.mlpDim + n])));
    expect(byMethod.max.weights?.[0].fc1[5]).toBeCloseTo(col(5) / 127, 7);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'vitstream-int8-')), 'scales.json');
    writeScales(file, byMethod.mse);
    expect(readScales(file, config)).toEqual(byMethod.mse);
    writeFileSync(file, JSON.stringify({ ...byMethod.mse, blocks: byMethod.mse.blocks.slice(1) }));
    expect(() => readScales(file, config)).toThrow(/scales for 3 blocks, but model vit-cifar10-demo has 4/);
    const att = byMethod.mse.attention!;
    writeFileSync(file, JSON.stringify({ ...byMethod.mse, attention: att.slice(1) }));
    expect(() => readScales(file, config)).toThrow(/attention ranges for 3 blocks, scales for 4/);
    writeFileSync(
      file,
      JSON.stringify({
        ...byMethod.mse,
        attention: [att[0], { ...att[1], v: { scale: 0 } }, ...att.slice(2)],
      }),
    );
    expect(() => readScales(file, config)).toThrow(/block 1 attention v: scale 0 is out of range/);
    // Too large to come from calibration (issue #20 item 6), and not a number at all.
    for (const scale of [1e308, 1000, -1, 'NaN', null]) {
      writeFileSync(
        file,
        JSON.stringify({
          ...byMethod.mse,
          blocks: [{ ...byMethod.mse.blocks[0], fc2: { scale } }, ...byMethod.mse.blocks.slice(1)],
        }),
      );
      expect(() => readScales(file, config)).toThrow(
        /block 0 fc2: scale .* is out of range \(1e-30 to 515\.7/,
      );
    }
    // Files calibrated before attention ranges existed still load (mode 2 then keeps FP16 attention).
    writeFileSync(file, JSON.stringify({ ...byMethod.mse, attention: undefined }));
    expect(readScales(file, config).attention).toBeUndefined();
  });

  it('on the GPU engine observes the same tensors as the CPU reference, and calibrates to the same scales', async () => {
    const dir = ['models', 'vit-cifar10-demo'];
    const config = readViTConfigFile(sharedPath(...dir, 'config.json'));
    const weights = await loadWeights(sharedPath(...dir, 'model.safetensors'), config);
    const frames = await loadCalibrationFrames(config, [sharedPath(...dir, 'rgb.npy')], 12);
    const engine = await WebGpuEngine.open({ config, weights, precision: 'fp32', maxBatch: 4 });
    try {
      // Tensor by tensor, against the CPU reference's observation of the same batch.
      const input = { kind: 'rgb' as const, data: frames.data.subarray(0, 3 * 32 * 32 * 3), count: 3 };
      const cpu: Float32Array[] = [];
      const cpuLogits = observeForward(config, weights, input, (_l, _r, x) => cpu.push(x.slice()));
      const gpu: string[] = [];
      const gpuLogits = await engine.observe(input, (l, role, x) => {
        const i = gpu.push(`${l}.${role}`) - 1;
        expect(x.length, `${l}.${role}`).toBe(cpu[i].length);
        expect(relMaxError(x, cpu[i]), `${l}.${role}`).toBeLessThan(1e-4);
      });
      expect(gpu).toEqual(
        [0, 1, 2, 3].flatMap((l) => ['qkv', 'attention', 'proj', 'fc1', 'fc2'].map((r) => `${l}.${r}`)),
      );
      expect(relMaxError(gpuLogits, cpuLogits)).toBeLessThan(1e-4);
      // The calibration result of both passes over 12 frames (3 GPU batches of 4).
      const opts = {
        config,
        weights,
        frames: frames.data,
        count: frames.count,
        method: 'percentile' as const,
      };
      const onCpu = await calibrate(opts);
      const onGpu = await calibrateOnGpu({ ...opts, batch: 4, gpu: engine.gpu });
      for (const [l, b] of onCpu.blocks.entries())
        for (const role of ['qkv', 'proj', 'fc1', 'fc2'] as const) {
          const g = onGpu.blocks[l][role];
          expect(g.absMax, `${l}.${role} absMax`).toBeCloseTo(b[role].absMax, 4);
          // Percentiles come from histogram bins: equal within a bin or two.
          expect(Math.abs(g.threshold - b[role].threshold), `${l}.${role}`).toBeLessThan(
            (2 * b[role].absMax) / 1024,
          );
        }
      for (const [l, a] of onCpu.attention!.entries())
        for (const part of ['q', 'k', 'v'] as const) {
          const g = onGpu.attention![l][part];
          expect(g.absMax, `${l}.${part} absMax`).toBeCloseTo(a[part].absMax, 4);
          expect(Math.abs(g.threshold - a[part].threshold), `${l}.${part}`).toBeLessThan(
            (2 * a[part].absMax) / 1024,
          );
        }
    } finally {
      await engine.close();
    }
  });
});
