import { lastValueFrom, Subject, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readViTConfigFile } from '../../src/engine/config.js';
import { openGpu } from '../../src/engine/gpu.js';
import type { BatchRequest, DirectBatch } from '../../src/engine/types.js';
import { WebGpuEngine } from '../../src/engine/webgpu-engine.js';
import { loadWeights } from '../../src/engine/weights/index.js';
import { yuvFrameBytes } from '../../src/engine/yuv.js';
import { batchFrames } from '../../src/operators/batchFrames.js';
import { classify } from '../../src/operators/classify.js';
import type { Prediction } from '../../src/predictions.js';
import type { Frame, FrameColor } from '../../src/video/frame.js';
import { sharedPath } from '../helpers/shared.js';

// batchFrames writing into the engine's own batches (beginBatch) against the pooled-buffer path
// that infer() takes, on a real WebGPU engine (lavapipe in CI).
const fixture = 'vit-tiny-test';
const gpu = await openGpu();

function bytes(length: number, seed: number): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s >>> 24;
  });
}

describe('batchFrames into engine batches, then classify', () => {
  let engine: WebGpuEngine;
  let S: number;
  beforeAll(async () => {
    const config = readViTConfigFile(sharedPath('fixtures', fixture, 'config.json'));
    const weights = await loadWeights(sharedPath('fixtures', fixture, 'weights.npz'), config);
    engine = await WebGpuEngine.open({ config, weights, precision: 'fp32', maxBatch: 4, gpu });
    S = config.imageSize;
  });
  afterAll(() => engine?.close());

  const bt601: FrameColor = { matrix: 'bt601', range: 'limited' };
  const bt709: FrameColor = { matrix: 'bt709', range: 'full' };
  /** RGB and NV12 frames of two colours, in an order that closes batches early (layout changes). */
  function frames(released: { n: number }): Frame[] {
    const kinds: ('rgb' | FrameColor)[] = [
      bt601,
      bt709,
      bt601,
      bt709,
      bt709,
      'rgb',
      'rgb',
      bt601,
      'rgb',
      bt709,
    ];
    return kinds.map((k, index) => {
      const nv12 = k !== 'rgb';
      return {
        streamId: `s${index % 2}`,
        index,
        ptsMs: index * 40,
        receivedAtMs: 0,
        width: S,
        height: S,
        rgb: bytes(nv12 ? yuvFrameBytes(S, S) : S * S * 3, index + 1),
        ...(nv12 && { pixelFormat: 'nv12' as const, color: k }),
        release: () => released.n++,
      };
    });
  }

  /** The engine's beginBatch, counting batches begun and how each ended. */
  function countedBegin() {
    const ended = { begun: 0, submitted: 0, cancelled: 0 };
    const begin = async (request: BatchRequest): Promise<DirectBatch> => {
      const b = await engine.beginBatch(request);
      ended.begun++;
      return {
        kind: b.kind,
        count: b.count,
        frameBytes: b.frameBytes,
        frame: (i, color) => b.frame(i, color),
        submit: (count) => {
          ended.submitted++;
          return b.submit(count);
        },
        cancel: () => {
          ended.cancelled++;
          b.cancel();
        },
      };
    };
    return { begin, ended };
  }

  const run = async (begin?: (r: BatchRequest) => Promise<DirectBatch>) => {
    const released = { n: 0 };
    const src = new Subject<Frame>();
    const out = lastValueFrom(
      src.pipe(
        batchFrames({ maxBatch: 4, maxDelayMs: 1e9, maxInFlight: 3, beginBatch: begin }),
        classify(engine, { topK: 3, now: () => 0 }),
        toArray(),
      ),
    );
    for (const f of frames(released)) src.next(f);
    src.complete();
    return { predictions: await out, released: released.n };
  };

  it('gives exactly the predictions of the infer path, every frame released, infer never called', async () => {
    const viaInfer = await run();
    const { begin, ended } = countedBegin();
    let inferCalls = 0;
    const infer = engine.infer.bind(engine);
    engine.infer = (input) => {
      inferCalls++;
      return infer(input);
    };
    let direct: { predictions: Prediction[]; released: number };
    try {
      direct = await run(begin);
    } finally {
      engine.infer = infer;
    }
    expect(direct.predictions.map((p) => p.frame)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(direct.predictions).toEqual(viaInfer.predictions);
    expect(direct.released).toBe(10);
    expect(inferCalls).toBe(0);
    // Colours mix in a batch; layouts do not: [4 nv12][nv12][rgb rgb][nv12][rgb][nv12].
    expect(ended).toEqual({ begun: 6, submitted: 6, cancelled: 0 });
  });

  it('gives the engine its batches back when the source fails or the consumer leaves', async () => {
    const { begin, ended } = countedBegin();
    const released = { n: 0 };
    const src = new Subject<Frame>();
    const failed = lastValueFrom(
      src.pipe(batchFrames({ maxBatch: 4, maxDelayMs: 1e9, beginBatch: begin }), classify(engine)),
    ).catch((e: Error) => e);
    const all = frames(released);
    for (const f of all.slice(0, 6)) src.next(f);
    src.error(new Error('decoder died'));
    expect(((await failed) as Error).message).toBe('decoder died');
    // The frames that reached a batch ran; no batch holds a slot.
    expect(ended.begun).toBe(ended.submitted + ended.cancelled);

    // A consumer that leaves while a batch is open: the open batch is cancelled.
    const src2 = new Subject<Frame>();
    const counted = countedBegin();
    const one = frames({ n: 0 })[0] as Frame;
    let taken = false;
    const sub = src2
      .pipe(batchFrames({ maxBatch: 4, maxDelayMs: 1e9, beginBatch: counted.begin }))
      .subscribe();
    src2.next({ ...one, release: () => (taken = true) });
    await new Promise<void>((resolve) => {
      const poll = () => (counted.ended.begun === 1 && taken ? resolve() : setImmediate(poll));
      poll();
    });
    sub.unsubscribe();
    expect(counted.ended).toEqual({ begun: 1, submitted: 0, cancelled: 1 });
    // Both slots serve batches again.
    for (let i = 0; i < 2; i++) (await engine.beginBatch({ kind: 'rgb', count: 1 })).cancel();
  });
});
