import { describe, expect, it } from 'vitest';
import { autoBatching, feedFps } from '../../pipelines/autoBatching.js';
import { openEngine } from '../../src/app/open-engine.js';
import { chooseBatching, latencyAt, measureBatchLatency } from '../../src/operators/autoBatch.js';
import { sharedPath } from '../helpers/shared.js';
import { ffprobeFps } from './probe.js';

describe('automatic batching', () => {
  // A made-up engine: 10 ms fixed cost plus 5 ms per frame.
  const table = [1, 2, 4, 8, 16].map((size) => ({ size, ms: 10 + 5 * size }));

  it('never lets a frame wait longer than its fastest source interval, and keeps up when it can', () => {
    for (const fps of [[30], [25, 25, 25, 25], [10, 30, 12.5], [60, 60, 60, 60, 60, 60]]) {
      const c = chooseBatching({ fps, latency: table, engineMaxBatch: 16 });
      const total = fps.reduce((a, b) => a + b, 0);
      expect(c.maxDelayMs).toBeLessThanOrEqual(1000 / Math.max(...fps));
      expect(c.maxBatch).toBeGreaterThanOrEqual(1);
      expect(c.maxBatch).toBeLessThanOrEqual(16);
      // the engine's throughput at maxBatch covers the sources whenever any batch size can
      const best = (16 * 1000) / latencyAt(table, 16);
      if (best >= total * 1.25) {
        expect(c.keepsUpAt).toBeDefined();
        expect((c.maxBatch * 1000) / latencyAt(table, c.maxBatch)).toBeGreaterThanOrEqual(total);
      } else {
        expect(c.keepsUpAt).toBeUndefined();
        expect(c.maxBatch).toBe(16);
        expect(c.reason).toMatch(/expect drops/);
      }
    }
  });

  it('bounds the wait by the source rate before sampling', () => {
    const c = chooseBatching({ fps: [2, 2], sourceFps: [25, 30], latency: table, engineMaxBatch: 16 });
    expect(c.maxDelayMs).toBeLessThanOrEqual(1000 / 30);
  });

  it('interpolates latency between measured sizes', () => {
    expect(latencyAt(table, 3)).toBeCloseTo(25);
    expect(latencyAt(table, 16)).toBeCloseTo(90);
  });

  it('measures a real engine and reads frame rates as ffprobe does', async () => {
    const dir = sharedPath('models', 'vit-cifar10-demo');
    const engine = await openEngine({
      model: `${dir}/config.json`,
      weights: `${dir}/model.safetensors`,
      backend: 'cpu',
      maxBatch: 4,
    });
    try {
      const lat = await measureBatchLatency(engine, { warmup: 1, reps: 1 });
      expect(lat.map((l) => l.size)).toEqual([1, 2, 4]);
      for (const l of lat) expect(l.ms).toBeGreaterThan(0);
      const clip = sharedPath('media', 'street_bikes_640x272.mp4');
      const rates = await feedFps({ path: clip, realtime: true, sample: { every: 5 } });
      expect(rates.source).toBeCloseTo(ffprobeFps(clip), 1);
      expect(rates.delivered).toBeCloseTo(ffprobeFps(clip) / 5, 1);
      const choice = await autoBatching(engine, [{ path: clip, realtime: true }]);
      expect(choice.maxDelayMs).toBeLessThanOrEqual(1000 / ffprobeFps(clip));
      expect(choice.maxBatch).toBeLessThanOrEqual(4);
    } finally {
      await engine.close();
    }
  });
});
