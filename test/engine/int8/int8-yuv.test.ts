import { afterAll, expect, it } from 'vitest';
import { readViTConfigFile } from '../../../src/engine/config.js';
import { openGpu } from '../../../src/engine/gpu.js';
import { calibrate } from '../../../src/engine/int8/calibrate.js';
import { openInt8Engine } from '../../../src/engine/int8/index.js';
import { loadWeights } from '../../../src/engine/weights/index.js';
import { yuvFrameBytes, yuvToRgbBytes } from '../../../src/engine/yuv.js';
import { readNpy } from '../../../src/util/npy.js';
import { relMaxError } from '../../helpers/compare.js';
import { sharedPath } from '../../helpers/shared.js';

const gpu = await openGpu();
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

// The INT8 plans share the preprocessing with the FP ones: NV12 in, and frames written in place.
it('INT8 engine: NV12 frames give the logits of their RGB, in place as through infer', async () => {
  const dir = ['fixtures', 'vit-tiny-test'];
  const config = readViTConfigFile(sharedPath(...dir, 'config.json'));
  const weights = await loadWeights(sharedPath(...dir, 'weights.npz'), config);
  const rgb = readNpy(sharedPath(...dir, 'rgb.npy')).data as Uint8Array;
  const scales = await calibrate({ config, weights, frames: rgb, count: 4, method: 'max' });
  const engine = await openInt8Engine({ config, weights, scales, mode: 1, maxBatch: 4, gpu });
  closers.push(() => engine.close());
  const S = config.imageSize;
  const per = yuvFrameBytes(S, S);
  let seed = 5;
  const nv12 = Uint8Array.from({ length: 4 * per }, () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 24;
  });
  const color = { matrix: 'bt709', range: 'limited' } as const;
  const fromNv12 = await engine.infer({ kind: 'nv12', data: nv12, count: 4, color });
  // Rounded to bytes, so the same within INT8's own error, not to float tolerance.
  const asRgb = new Uint8Array(4 * S * S * 3);
  for (let n = 0; n < 4; n++)
    asRgb.set(yuvToRgbBytes(nv12.subarray(n * per, (n + 1) * per), 'nv12', S, S, color), n * S * S * 3);
  expect(relMaxError(fromNv12, await engine.infer({ kind: 'rgb', data: asRgb, count: 4 }))).toBeLessThan(
    0.05,
  );
  const batch = await engine.beginBatch({ kind: 'nv12', count: 4, color });
  for (let i = 0; i < 4; i++) batch.frame(i).set(nv12.subarray(i * per, (i + 1) * per));
  expect(await batch.submit()).toEqual(fromNv12);
});
