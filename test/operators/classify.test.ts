import { lastValueFrom, type Observable, of, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ViTConfig } from '../../src/engine/config.js';
import type { Engine, EngineInput } from '../../src/engine/types.js';
import { classify } from '../../src/operators/classify.js';
import type { Prediction } from '../../src/predictions.js';
import type { FrameBatch } from '../../src/video/frame.js';

const C = 4;
const FRAME_BYTES = 2 * 2 * 3;

/**
 * An engine whose calls the test settles by hand, in any order. Its logits depend on the pixels:
 * frame i's first byte names the class that wins, so a prediction proves which frame it came from.
 */
function fakeEngine(labels?: string[]) {
  const calls: { input: EngineInput; resolve(): void; reject(e: unknown): void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const engine: Engine = {
    config: { name: 'fake', imageSize: 2, numClasses: C, labels } as unknown as ViTConfig,
    backend: 'cpu',
    precision: 'fp32',
    maxBatch: 8,
    infer(input) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise<Float32Array>((resolve, reject) => {
        calls.push({
          input,
          resolve: () => {
            inFlight--;
            const logits = new Float32Array(input.count * C);
            for (let i = 0; i < input.count; i++) {
              const cls = (input.data[i * FRAME_BYTES] as number) % C;
              for (let c = 0; c < C; c++) logits[i * C + c] = c === cls ? 3 : -c * 0.5;
            }
            resolve(logits);
          },
          reject: (e) => {
            inFlight--;
            reject(e);
          },
        });
      });
    },
    close: async () => {},
  };
  return { engine, calls, maxInFlight: () => maxInFlight, inFlight: () => inFlight };
}

/** A batch of frames `first..first+count-1` of `streamId`; frame n's pixels say class n % C. */
function batch(streamId: string, first: number, count: number, released: string[]): FrameBatch {
  const data = new Uint8Array(count * FRAME_BYTES);
  const frames = Array.from({ length: count }, (_, i) => {
    data[i * FRAME_BYTES] = first + i;
    return {
      streamId,
      index: first + i,
      ptsMs: (first + i) * 40,
      receivedAtMs: 1000 + first + i,
      width: 2,
      height: 2,
    };
  });
  let done = false;
  return {
    frames,
    data,
    count,
    release: () => {
      if (!done) released.push(`${streamId}:${first}`);
      done = true;
    },
  };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

function collect(out: Observable<Prediction>) {
  const got: Prediction[] = [];
  let error: unknown;
  let complete = false;
  out.subscribe({ next: (p) => got.push(p), error: (e) => (error = e), complete: () => (complete = true) });
  return { got, error: () => error, complete: () => complete };
}

describe('classify operator', () => {
  it('keeps input order when the engine finishes batches out of order, with at most 2 in flight', async () => {
    const { engine, calls, maxInFlight } = fakeEngine(['a', 'b', 'c', 'd']);
    const released: string[] = [];
    const src = new Subject<FrameBatch>();
    const out = collect(src.pipe(classify(engine, { topK: 2, now: () => 2000 })));
    src.next(batch('s', 0, 3, released));
    src.next(batch('s', 3, 2, released));
    src.next(batch('t', 0, 2, released));
    src.complete();
    await flush();
    expect(calls).toHaveLength(2); // the third waits for a slot

    calls[1]!.resolve();
    await flush();
    expect(out.got).toEqual([]); // batch 1 is done but must wait for batch 0

    calls[0]!.resolve();
    await flush();
    expect(calls).toHaveLength(3);
    calls[2]!.resolve();
    await flush();
    expect(out.complete()).toBe(true);
    expect(maxInFlight()).toBe(2);
    expect(out.got.map((p) => `${p.streamId}:${p.frame}`)).toEqual([
      's:0',
      's:1',
      's:2',
      's:3',
      's:4',
      't:0',
      't:1',
    ]);
    for (const p of out.got) {
      expect(p.top[0]!.index).toBe(p.frame % C);
      expect(p.top[0]!.label).toBe('abcd'[p.frame % C]);
      expect(p.top).toHaveLength(2);
      expect(p.ptsMs).toBe(p.frame * 40);
      expect(p.latencyMs).toBe(2000 - p.receivedAtMs);
    }
    expect(released.sort()).toEqual(['s:0', 's:3', 't:0']);
  });

  it('maxInFlight: 1 runs one batch at a time', async () => {
    const { engine, calls, maxInFlight } = fakeEngine();
    const src = new Subject<FrameBatch>();
    const out = collect(src.pipe(classify(engine, { maxInFlight: 1 })));
    const released: string[] = [];
    for (let b = 0; b < 3; b++) src.next(batch('s', b * 2, 2, released));
    src.complete();
    for (let b = 0; b < 3; b++) {
      await flush();
      expect(calls).toHaveLength(b + 1);
      calls[b]!.resolve();
    }
    await flush();
    expect(out.got.map((p) => p.frame)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(maxInFlight()).toBe(1);
  });

  it("errors: 'fail' (default) ends the stream with the engine's error and still releases the batch", async () => {
    const { engine, calls } = fakeEngine();
    const released: string[] = [];
    const src = new Subject<FrameBatch>();
    const out = collect(src.pipe(classify(engine)));
    src.next(batch('s', 0, 2, released));
    await flush();
    const boom = new Error('device lost');
    calls[0]!.reject(boom);
    await flush();
    expect(out.error()).toBe(boom);
    expect(released).toEqual(['s:0']);
  });

  it("errors: 'skip' reports the failed batch's frames, releases it and carries on in order", async () => {
    const { engine, calls } = fakeEngine();
    const released: string[] = [];
    const failed: number[][] = [];
    const src = new Subject<FrameBatch>();
    const out = collect(
      src.pipe(
        classify(engine, {
          errors: 'skip',
          onError: (_e, frames) => failed.push(frames.map((f) => f.index)),
        }),
      ),
    );
    src.next(batch('s', 0, 2, released));
    src.next(batch('s', 2, 2, released));
    src.next(batch('s', 4, 2, released));
    src.complete();
    await flush();
    calls[0]!.reject(new Error('out of memory'));
    await flush();
    calls[1]!.resolve();
    await flush();
    calls[2]!.resolve();
    await flush();
    expect(out.error()).toBeUndefined();
    expect(out.complete()).toBe(true);
    expect(failed).toEqual([[0, 1]]);
    expect(out.got.map((p) => p.frame)).toEqual([2, 3, 4, 5]);
    expect(released.sort()).toEqual(['s:0', 's:2', 's:4']);
  });

  it("errors: 'skip' when a later batch fails while an earlier one is still computing", async () => {
    // The later failure must wait its turn (order) without surfacing as an unhandled rejection.
    const { engine, calls } = fakeEngine();
    const released: string[] = [];
    const failed: number[][] = [];
    const src = new Subject<FrameBatch>();
    const out = collect(
      src.pipe(
        classify(engine, {
          errors: 'skip',
          onError: (_e, frames) => failed.push(frames.map((f) => f.index)),
        }),
      ),
    );
    src.next(batch('s', 0, 2, released));
    src.next(batch('s', 2, 2, released));
    src.complete();
    await flush();
    calls[1]!.reject(new Error('bad batch'));
    // Several macrotask turns: Node reports a rejection nobody handles after the microtask queue drains.
    for (let i = 0; i < 5; i++) await flush();
    calls[0]!.resolve();
    await flush();
    expect(out.got.map((p) => p.frame)).toEqual([0, 1]);
    expect(failed).toEqual([[2, 3]]);
    expect(out.complete()).toBe(true);
  });

  it('keepPixels: the asked-for predictions carry a copy of their pixels; onBatch counts; labels fall back to "class N"; k is capped', async () => {
    const { engine, calls } = fakeEngine();
    const released: string[] = [];
    const batches: number[] = [];
    const b = batch('cam', 7, 3, released);
    const src = new Subject<FrameBatch>();
    const done = lastValueFrom(
      src.pipe(
        classify(engine, {
          topK: 99,
          keepPixels: (f) => {
            expect(released).toEqual([]);
            return f.index !== 8;
          },
          onBatch: ({ count, engineMs }) => {
            expect(engineMs).toBeGreaterThanOrEqual(0);
            batches.push(count);
          },
        }),
        toArray(),
      ),
    );
    src.next(b);
    src.complete();
    await flush();
    calls.at(-1)!.resolve();
    const ps = await done;
    // Copies (the batch buffer was released and may be reused), only for the frames asked for.
    expect(ps.map((p) => p.image && `${p.frame}:${p.image.rgb[0]}:${p.image.rgb.length}`)).toEqual([
      '7:7:12',
      undefined,
      '9:9:12',
    ]);
    expect(ps[0]!.image!.rgb.buffer).not.toBe(b.data.buffer);
    expect(batches).toEqual([3]);
    expect(released).toEqual(['cam:7']);
    expect(ps[0]!.top).toHaveLength(C);
    expect(ps.map((p) => p.top[0]!.label)).toEqual(['class 3', 'class 0', 'class 1']);
  });

  it('labels option overrides the config labels', async () => {
    const { engine, calls } = fakeEngine(['a', 'b', 'c', 'd']);
    const src = new Subject<FrameBatch>();
    const done = lastValueFrom(
      src.pipe(classify(engine, { labels: ['w', 'x', 'y', 'z'], topK: 1 }), toArray()),
    );
    src.next(batch('s', 1, 2, []));
    src.complete();
    await flush();
    calls[0]!.resolve();
    expect((await done).map((p) => p.top.map((t) => t.label))).toEqual([['x'], ['y']]);
  });

  it.each([0, -1, 2.5, 'x'])('topK %o: an InputError naming topK, before any batch', (topK) => {
    const { engine } = fakeEngine();
    expect(() => classify(engine, { topK: topK as number })).toThrow(
      `classify: topK must be a positive integer, got ${JSON.stringify(topK)}`,
    );
  });
});

describe('classify: NV12 batches', () => {
  it("gives the engine the batch's layout and colour, and RGB thumbnails", async () => {
    const { engine, calls } = fakeEngine();
    const released: string[] = [];
    const nv12Bytes = 2 * 2 + 2 * 1 * 1;
    const b: FrameBatch = {
      ...batch('s', 0, 1, released),
      data: Uint8Array.from([235, 235, 235, 235, 128, 128]),
      pixelFormat: 'nv12',
      color: { matrix: 'bt709', range: 'limited' },
    };
    const out = collect(of(b).pipe(classify(engine, { keepPixels: () => true })));
    await flush();
    expect(calls[0]!.input).toMatchObject({
      kind: 'nv12',
      count: 1,
      color: { matrix: 'bt709', range: 'limited' },
    });
    expect(calls[0]!.input.data.byteLength).toBe(nv12Bytes);
    calls[0]!.resolve();
    await flush();
    await flush();
    expect(out.complete()).toBe(true);
    // Y 235 limited, neutral chroma: white.
    expect([...(out.got[0]!.image?.rgb ?? [])]).toEqual(new Array(12).fill(255));
  });
});
