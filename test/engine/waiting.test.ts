import { afterAll, describe, expect, it } from 'vitest';
import type { ViTConfig } from '../../src/engine/config.js';
import { readViTConfigFile } from '../../src/engine/config.js';
import { resolveModel } from '../../src/engine/presets.js';
import { randomFrames, randomWeights } from '../../src/engine/random-weights.js';
import { WebGpuEngine } from '../../src/engine/webgpu-engine.js';
import { sharedPath } from '../helpers/shared.js';

/** Batches at least this long are slept through (the engine's SLEEP_FROM_MS is 4 ms). */
const LONG_BATCH_MS = 8;

// dawn.node resolves mapAsync by polling with setImmediate while it is pending; an engine that
// asked for its results right after submitting kept the event loop busy for the whole batch
// (utilisation 1.00 here on lavapipe, where that polling also slowed the batches themselves).
describe('WebGPU engine waiting for a batch', () => {
  const opened: WebGpuEngine[] = [];
  afterAll(() => Promise.all(opened.map((e) => e.close())));

  /**
   * The first workload whose batch takes over LONG_BATCH_MS on this adapter: the mini model at
   * batch 4 on lavapipe (~260 ms); on an H200 that takes 0.6 ms, so ViT-B/16-384 in FP32 there.
   */
  async function longWorkload() {
    const candidates: [ViTConfig, number][] = [
      [readViTConfigFile(sharedPath('fixtures', 'vit-mini-224', 'config.json')), 4],
      [resolveModel('vit-b16-384'), 4],
    ];
    for (const [config, count] of candidates) {
      const engine = await WebGpuEngine.open({
        config,
        weights: randomWeights(config),
        precision: 'fp32',
        maxBatch: count,
      });
      opened.push(engine);
      const input = { kind: 'rgb' as const, data: randomFrames(config, count), count };
      // The first runs validate the plan and learn its time.
      await engine.infer(input);
      const t0 = performance.now();
      await engine.infer(input);
      if (performance.now() - t0 > 2 * LONG_BATCH_MS) return { engine, input };
    }
    throw new Error(`no candidate workload takes over ${2 * LONG_BATCH_MS} ms per batch on this adapter`);
  }

  it('leaves the event loop idle while the GPU works, once it knows how long a batch takes', async () => {
    const { engine, input } = await longWorkload();
    const before = performance.eventLoopUtilization();
    const started = performance.now();
    for (let i = 0; i < 4; i++) await engine.infer(input);
    const perBatch = (performance.now() - started) / 4;
    const { utilization } = performance.eventLoopUtilization(before);
    // Batches under SLEEP_FROM_MS are waited for by polling, on purpose (batch-1 latency).
    expect(perBatch).toBeGreaterThan(LONG_BATCH_MS);
    expect(utilization).toBeLessThan(0.5);
  }, 120_000);
});
