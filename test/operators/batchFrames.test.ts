import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { FramesBatch } from '../../src/engine/direct-batch.js';
import type { BatchRequest, DirectBatch } from '../../src/engine/types.js';
import { InputError } from '../../src/errors.js';
import { batchFrames, type EngineFrameBatch, isEngineFrameBatch } from '../../src/operators/batchFrames.js';
import type { Frame, FrameBatch } from '../../src/video/frame.js';

function frame(streamId: string, index: number, released?: Set<string>): Frame {
  const rgb = new Uint8Array(2 * 2 * 3).fill((index * 7 + streamId.charCodeAt(0)) & 255);
  return {
    streamId,
    index,
    ptsMs: index * 40,
    receivedAtMs: 0,
    width: 2,
    height: 2,
    rgb,
    release: () => released?.add(`${streamId}:${index}`),
  };
}

const ids = (b: FrameBatch) => b.frames.map((f) => `${f.streamId}:${f.index}`).join(',');

describe('batchFrames (marbles)', () => {
  it('emits when full or when the oldest frame is maxDelayMs old, across merged streams', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const values = {
        a: frame('a', 0),
        b: frame('b', 0),
        c: frame('a', 1),
        d: frame('b', 1),
        e: frame('a', 2),
      };
      // three frames fill a batch at t=2; d arrives at 10 and waits 5 ms alone-ish with e; stream completes at 30
      const src = cold('abc-------de-------------------|', values);
      const out = src.pipe(batchFrames({ maxBatch: 3, maxDelayMs: 5 }));
      expectObservable(out, '^').toBe('--x------------y---------------|', {
        x: expect.objectContaining({ count: 3 }),
        y: expect.objectContaining({ count: 2 }),
      });
    });
  });

  it('flushes a partial batch on completion, and delivers an error after the frames before it', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const v = { a: frame('a', 0), b: frame('a', 1) };
      expectObservable(cold('ab|', v).pipe(batchFrames({ maxBatch: 4, maxDelayMs: 100 }))).toBe('--(x|)', {
        x: expect.objectContaining({ count: 2 }),
      });
      expectObservable(
        cold('ab#', v, new Error('boom')).pipe(batchFrames({ maxBatch: 4, maxDelayMs: 100 })),
      ).toBe('--(x#)', { x: expect.objectContaining({ count: 2 }) }, new Error('boom'));
    });
  });
});

describe('batchFrames (data and flow)', () => {
  it('packs frames contiguously as [count,H,W,3], keeps their info and releases them', () => {
    const released = new Set<string>();
    const src = new Subject<Frame>();
    const batches: FrameBatch[] = [];
    src.pipe(batchFrames({ maxBatch: 2, maxDelayMs: 1000 })).subscribe((b) => batches.push(b));
    const f = [frame('a', 0, released), frame('b', 5, released), frame('a', 1, released)];
    for (const x of f) src.next(x);
    src.complete();
    expect(batches.map(ids)).toEqual(['a:0,b:5', 'a:1']);
    expect(batches[0].data.length).toBe(2 * 12);
    expect(Array.from(batches[0].data.subarray(12, 24))).toEqual(Array.from(f[1].rgb));
    expect(batches[0].frames[1]).toMatchObject({ streamId: 'b', index: 5, ptsMs: 200, width: 2, height: 2 });
    expect(released.size).toBe(3);
  });

  it('with maxInFlight, holds frames unreleased until a batch is released, loses none and reuses the buffer', () => {
    const released = new Set<string>();
    const src = new Subject<Frame>();
    const batches: FrameBatch[] = [];
    let done = false;
    src.pipe(batchFrames({ maxBatch: 2, maxDelayMs: 1000, maxInFlight: 1 })).subscribe({
      next: (b) => batches.push(b),
      complete: () => {
        done = true;
      },
    });
    for (let i = 0; i < 5; i++) src.next(frame('a', i, released));
    src.complete();
    expect(batches.length).toBe(1);
    expect(released.size).toBe(2); // frames 2..4 wait, unreleased: that is the backpressure signal
    expect(done).toBe(false);
    const firstBuffer = batches[0].data.buffer;
    batches[0].release();
    expect(batches.length).toBe(2);
    expect(batches[1].data.buffer).toBe(firstBuffer);
    batches[1].release();
    expect(batches.map(ids)).toEqual(['a:0,a:1', 'a:2,a:3', 'a:4']);
    expect(done).toBe(true);
    expect(released.size).toBe(5);
  });

  it('rejects a frame of another size with an InputError', () => {
    const src = new Subject<Frame>();
    let error: unknown;
    src.pipe(batchFrames({ maxBatch: 4, maxDelayMs: 10 })).subscribe({
      error: (e) => {
        error = e;
      },
    });
    src.next(frame('a', 0));
    src.next({ ...frame('b', 0), width: 3, rgb: new Uint8Array(27) });
    expect((error as Error).name).toBe('InputError');
    expect((error as Error).message).toMatch(/stream b/);
  });
});

describe('batchFrames and a source that answers a release with its next frame', () => {
  it('a frame pushed from inside release() starts a new batch instead of overflowing the full one', () => {
    // decodeFrames' flow control does this: releasing a frame lets the next waiting one out at once.
    const source = new Subject<Frame>();
    const queue = [1, 2, 3].map((i) => frame('a', i));
    const chained = (f: Frame): Frame => ({
      ...f,
      release: () => {
        const next = queue.shift();
        if (next) source.next(chained(next));
        else source.complete();
      },
    });
    const batches: string[] = [];
    let error: unknown;
    source.pipe(batchFrames({ maxBatch: 1, maxDelayMs: 0 })).subscribe({
      next: (b) => {
        batches.push(ids(b));
        b.release();
      },
      error: (e) => {
        error = e;
      },
    });
    source.next(chained(frame('a', 0)));
    expect(error).toBeUndefined();
    expect(batches).toEqual(['a:0', 'a:1', 'a:2', 'a:3']);
  });
});

describe('batchFrames: NV12 frames', () => {
  const nv12 = (index: number, matrix: 'bt601' | 'bt709'): Frame => ({
    streamId: matrix,
    index,
    ptsMs: index,
    receivedAtMs: 0,
    width: 3,
    height: 3,
    rgb: new Uint8Array(9 + 2 * 4).fill(index + 1),
    pixelFormat: 'nv12',
    color: { matrix, range: 'limited' },
  });
  const rgb = (index: number): Frame => ({
    streamId: 'rgb',
    index,
    ptsMs: index,
    receivedAtMs: 0,
    width: 3,
    height: 3,
    rgb: new Uint8Array(27).fill(index + 1),
  });

  it('keeps each batch one layout, NV12 frames of any colour together, packed at their own size', () => {
    const got: FrameBatch[] = [];
    const src = new Subject<Frame>();
    src.pipe(batchFrames({ maxBatch: 4, maxDelayMs: 1e9 })).subscribe((b) => got.push(b));
    for (const f of [nv12(0, 'bt601'), nv12(1, 'bt601'), nv12(2, 'bt709'), rgb(3), rgb(4), nv12(5, 'bt709')])
      src.next(f);
    src.complete();
    // A batch's colour is there only when its frames share one; each frame carries its own.
    expect(got.map((b) => [b.pixelFormat ?? 'rgb', b.color?.matrix, b.count, b.data.byteLength])).toEqual([
      ['nv12', undefined, 3, 51],
      ['rgb', undefined, 2, 54],
      ['nv12', 'bt709', 1, 17],
    ]);
    expect(got[0]!.frames.map((f) => f.color?.matrix)).toEqual(['bt601', 'bt601', 'bt709']);
    expect([...got[0]!.data]).toEqual([
      ...new Array(17).fill(1),
      ...new Array(17).fill(2),
      ...new Array(17).fill(3),
    ]);
  });

  it('a frame whose bytes do not match its format is an InputError naming the stream', () => {
    const src = new Subject<Frame>();
    let error: Error | undefined;
    src.pipe(batchFrames({ maxBatch: 4, maxDelayMs: 1e9 })).subscribe({ error: (e) => (error = e) });
    src.next({ ...nv12(0, 'bt601'), rgb: new Uint8Array(27) });
    expect(error?.message).toMatch(/stream bt601 .*nv12/);
  });
});

describe('batchFrames into engine batches (beginBatch), without a GPU', () => {
  /** beginBatch over plain memory (FramesBatch, as the CPU backend gets), recording what ran. */
  function fakeBegin(frameBytes = 12) {
    const runs: { count: number; bytes: number[] }[] = [];
    let cancelled = 0;
    const begin = (request: BatchRequest): Promise<DirectBatch> => {
      const memory = new ArrayBuffer(request.count * frameBytes);
      return Promise.resolve(
        new FramesBatch(
          request.kind,
          request.count,
          frameBytes,
          memory,
          request.color,
          (_colors, count) => {
            runs.push({ count, bytes: [...new Uint8Array(memory, 0, count * frameBytes)] });
            return Promise.resolve(new Float32Array(count));
          },
          () => cancelled++,
        ),
      );
    };
    return { begin, runs, cancelled: () => cancelled };
  }

  it('a batch closed early by the delay runs only the frames it has (submit(count))', async () => {
    const { begin, runs } = fakeBegin();
    const src = new Subject<Frame>();
    const got: FrameBatch[] = [];
    const done = new Promise<void>((resolve) =>
      src.pipe(batchFrames({ maxBatch: 4, maxDelayMs: 1, beginBatch: begin })).subscribe({
        next: (b) => got.push(b),
        complete: resolve,
      }),
    );
    src.next(frame('a', 0));
    src.next(frame('a', 1));
    await new Promise<void>((resolve) => {
      const poll = () => (got.length > 0 ? resolve() : setImmediate(poll));
      poll();
    });
    src.complete();
    await done;
    expect(got.map((b) => b.count)).toEqual([2]);
    const batch = got[0] as EngineFrameBatch;
    expect(isEngineFrameBatch(batch)).toBe(true);
    expect([...batch.data]).toEqual([...frame('a', 0).rgb, ...frame('a', 1).rgb]);
    await batch.submit();
    batch.release();
    expect(runs).toEqual([{ count: 2, bytes: [...frame('a', 0).rgb, ...frame('a', 1).rgb] }]);
  });

  it("a frame of another size than the engine's is an InputError naming the stream; the batch goes back", async () => {
    const fake = fakeBegin(27);
    const src = new Subject<Frame>();
    const error = new Promise<Error>((resolve) =>
      src
        .pipe(batchFrames({ maxBatch: 4, maxDelayMs: 1e9, beginBatch: fake.begin }))
        .subscribe({ error: resolve }),
    );
    src.next(frame('cam7', 0));
    const e = await error;
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/stream cam7 .*the engine's batch takes 27 bytes a frame/);
    expect(fake.cancelled()).toBe(1);
  });

  it('an engine that refuses the batch ends the stream with its error, frames released', async () => {
    const released = new Set<string>();
    const src = new Subject<Frame>();
    const refused = new Error('engine is closed');
    const error = new Promise<unknown>((resolve) =>
      src
        .pipe(batchFrames({ maxBatch: 4, maxDelayMs: 1e9, beginBatch: () => Promise.reject(refused) }))
        .subscribe({ error: resolve }),
    );
    src.next(frame('a', 0, released));
    src.next(frame('a', 1, released));
    expect(await error).toBe(refused);
    expect([...released].sort()).toEqual(['a:0', 'a:1']);
  });
});
