import { afterAll, describe, expect, it, vi } from 'vitest';
import type { ViTConfig } from '../../src/engine/config.js';
import { readViTConfigFile } from '../../src/engine/config.js';
import { randomFrames, randomWeights } from '../../src/engine/random-weights.js';
import { WebGpuEngine } from '../../src/engine/webgpu-engine.js';
import { resolveModel } from '../../src/models/presets.js';
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
      // Two slots: each one's first run validates its plan, its second learns the plan's time.
      for (let i = 0; i < 3; i++) await engine.infer(input);
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
    // Eight batches: the engine sleeps by the fastest of a plan's recent runs, which follow the
    // load this busy machine puts on lavapipe.
    for (let i = 0; i < 8; i++) await engine.infer(input);
    const perBatch = (performance.now() - started) / 8;
    const { utilization } = performance.eventLoopUtilization(before);
    // Batches under SLEEP_FROM_MS are waited for by polling, on purpose (batch-1 latency).
    expect(perBatch).toBeGreaterThan(LONG_BATCH_MS);
    expect(utilization).toBeLessThan(0.5);
  }, 120_000);

  it('leaves the event loop idle with two batches in flight (the second sleeps from the end of the first)', async () => {
    const { engine, input } = await longWorkload();
    const run = async (sleepFrom: 'queue' | 'submit') => {
      engine.sleepFrom = sleepFrom;
      // Each mode learns its own batch times first.
      await Promise.all([engine.infer(input), engine.infer(input)]);
      const before = performance.eventLoopUtilization();
      const inFlight: Promise<Float32Array>[] = [];
      for (let i = 0; i < 6; i++) {
        inFlight.push(engine.infer(input));
        if (inFlight.length === 2) await inFlight.shift();
      }
      await Promise.all(inFlight);
      return performance.eventLoopUtilization(before).utilization;
    };
    try {
      const queued = await run('queue');
      const fromSubmit = await run('submit');
      expect(queued).toBeLessThan(0.5);
      expect(queued).toBeLessThan(fromSubmit);
    } finally {
      engine.sleepFrom = 'queue';
    }
  }, 240_000);

  it('does not sleep later batches through a slow first run (lazy driver work)', async () => {
    const config = readViTConfigFile(sharedPath('fixtures', 'vit-mini-224', 'config.json'));
    const engine = await WebGpuEngine.open({
      config,
      weights: randomWeights(config),
      precision: 'fp32',
      maxBatch: 1,
    });
    opened.push(engine);
    // Each slot's first results arrive 600 ms late, as after a pipeline compiled on first use.
    const slots = (engine as unknown as { slots: { buffers: { readback: GPUBuffer } }[] }).slots;
    for (const { buffers } of slots) {
      const map = buffers.readback.mapAsync.bind(buffers.readback);
      let first = true;
      buffers.readback.mapAsync = async (...args: Parameters<GPUBuffer['mapAsync']>) => {
        if (first) await new Promise((resolve) => setTimeout(resolve, 600));
        first = false;
        return map(...args);
      };
    }
    const sleeps = vi.spyOn(globalThis, 'setTimeout');
    try {
      const input = { kind: 'rgb' as const, data: randomFrames(config, 1), count: 1 };
      for (let i = 0; i < 4; i++) await engine.infer(input);
      // The 600 ms test delays are the only long timers; the engine's own sleeps stay short.
      const engineSleeps = sleeps.mock.calls.map((c) => Number(c[1] ?? 0)).filter((ms) => ms !== 600);
      expect(Math.max(0, ...engineSleeps)).toBeLessThan(300);
    } finally {
      sleeps.mockRestore();
    }
  }, 120_000);
});
