import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readViTConfigFile } from '../../src/engine/config.js';
import { randomFrames, randomWeights } from '../../src/engine/random-weights.js';
import { WebGpuEngine } from '../../src/engine/webgpu-engine.js';
import { sharedPath } from '../helpers/shared.js';

// dawn.node resolves mapAsync by polling with setImmediate while it is pending; an engine that
// asked for its results right after submitting kept the event loop busy for the whole batch
// (utilisation 1.00 here on lavapipe, where that polling also slowed the batches themselves).
describe('WebGPU engine waiting for a batch', () => {
  let engine: WebGpuEngine;
  const config = readViTConfigFile(sharedPath('fixtures', 'vit-mini-224', 'config.json'));
  beforeAll(async () => {
    engine = await WebGpuEngine.open({
      config,
      weights: randomWeights(config),
      precision: 'fp32',
      maxBatch: 4,
    });
  });
  afterAll(() => engine?.close());

  it('leaves the event loop idle while the GPU works, once it knows how long a batch takes', async () => {
    const input = { kind: 'rgb' as const, data: randomFrames(config, 4), count: 4 };
    // The first runs validate the plan and learn its time.
    for (let i = 0; i < 2; i++) await engine.infer(input);
    const before = performance.eventLoopUtilization();
    const started = performance.now();
    for (let i = 0; i < 4; i++) await engine.infer(input);
    const perBatch = (performance.now() - started) / 4;
    const { utilization } = performance.eventLoopUtilization(before);
    // Batches under SLEEP_FROM_MS (4 ms) are waited for by polling, on purpose (batch-1 latency).
    expect(perBatch).toBeGreaterThan(8);
    expect(utilization).toBeLessThan(0.5);
  });
});
