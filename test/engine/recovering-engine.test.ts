import { describe, expect, it } from 'vitest';
import { openEngine } from '../../src/app/open-engine.js';
import { readViTConfigFile } from '../../src/engine/config.js';
import { openGpu } from '../../src/engine/gpu.js';
import { RecoveringEngine } from '../../src/engine/recovering-engine.js';
import { readNpy } from '../../src/util/npy.js';
import { relMaxError } from '../helpers/compare.js';
import { sharedPath } from '../helpers/shared.js';

describe('device loss', () => {
  it('opens a new device and engine when the GPU device is lost, and the batch still gets right logits', async () => {
    const dir = ['fixtures', 'vit-tiny-test'];
    const gpu = await openGpu();
    const engine = await openEngine({
      model: readViTConfigFile(sharedPath(...dir, 'config.json')),
      weights: sharedPath(...dir, 'weights.npz'),
      precision: 'fp32',
      maxBatch: 4,
      gpu,
    });
    expect(engine).toBeInstanceOf(RecoveringEngine);
    const input = {
      kind: 'rgb' as const,
      data: readNpy(sharedPath(...dir, 'rgb.npy')).data as Uint8Array,
      count: 4,
    };
    const golden = readNpy(sharedPath(...dir, 'logits.npy')).data as Float32Array;
    expect(relMaxError(await engine.infer(input), golden)).toBeLessThan(1e-4);
    gpu.device.destroy(); // what a driver reset looks like to the engine
    await gpu.lost;
    expect(relMaxError(await engine.infer(input), golden)).toBeLessThan(1e-4);
    expect((engine as RecoveringEngine).recoveries).toBe(1);
    await engine.close();
  });

  it('begins a batch on a new engine when the device was lost, with the right logits', async () => {
    const dir = ['fixtures', 'vit-tiny-test'];
    const gpu = await openGpu();
    const engine = (await openEngine({
      model: readViTConfigFile(sharedPath(...dir, 'config.json')),
      weights: sharedPath(...dir, 'weights.npz'),
      precision: 'fp32',
      maxBatch: 4,
      gpu,
    })) as RecoveringEngine;
    const rgb = readNpy(sharedPath(...dir, 'rgb.npy')).data as Uint8Array;
    const golden = readNpy(sharedPath(...dir, 'logits.npy')).data as Float32Array;
    gpu.device.destroy();
    await gpu.lost;
    const batch = await engine.beginBatch({ kind: 'rgb', count: 4 });
    expect(engine.recoveries).toBe(1);
    for (let i = 0; i < 4; i++)
      batch.frame(i).set(rgb.subarray(i * batch.frameBytes, (i + 1) * batch.frameBytes));
    expect(relMaxError(await batch.submit(), golden)).toBeLessThan(1e-4);
    await engine.close();
  });
});
