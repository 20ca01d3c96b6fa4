import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { hostBatch } from '../engine/direct-batch.js';
import type { BatchRequest, DirectBatch, Engine } from '../engine/types.js';
import { InputError, OptionError } from '../errors.js';
import { frameBytes } from '../video/args.js';
import { BufferPool } from '../video/bufferPool.js';
import type { Frame, FrameBatch, FrameColor, FrameInfo } from '../video/frame.js';

export interface BatchOptions {
  /** Frames per batch at most. */
  maxBatch: number;
  /** A batch goes out when its oldest frame has waited this long, full or not. */
  maxDelayMs: number;
  /**
   * Batches emitted and not yet released, at most (default Infinity). When reached, incoming frames
   * wait unreleased, which holds back their sources (see decodeFrames' maxUnreleased). 2 or 3 gives
   * double buffering with an engine that releases each batch when done.
   */
  maxInFlight?: number;
  /**
   * An engine's beginBatch (`engine.beginBatch.bind(engine)`): frames are written straight into
   * the engine's memory for the batch (the GPU engines' mapped staging buffers) and the batches
   * carry `submit` (EngineFrameBatch). Absent: pooled JS buffers, for engine.infer().
   */
  beginBatch?: (request: BatchRequest) => Promise<DirectBatch>;
  scheduler?: SchedulerLike;
}

/**
 * A batch written into an engine's own memory (batchFrames with `beginBatch`): `submit()` runs
 * the engine on its frames, after which `data` is gone (detached); `release()` after submit.
 * Released unsubmitted, it is cancelled and the engine's memory goes back to it.
 */
export interface EngineFrameBatch extends FrameBatch {
  submit(): Promise<Float32Array>;
}

export function isEngineFrameBatch(batch: FrameBatch): batch is EngineFrameBatch {
  return typeof (batch as Partial<EngineFrameBatch>).submit === 'function';
}

/**
 * The `beginBatch` option for this engine: its own beginBatch, bound, where it has one (frames
 * written into its memory); undefined where it has none (pooled buffers, then infer()).
 *
 * With `onBeginError` (live feeds): a batch the engine cannot begin (a lost device not yet
 * replaced) is told there and filled in a host buffer for infer() instead, whose error, if any,
 * classify's errors: 'skip' reports; without it, the batch stream ends with the error, as the
 * infer path never would.
 */
export function engineBeginBatch(
  engine: Engine,
  onBeginError?: (error: unknown) => void,
): BatchOptions['beginBatch'] {
  const own = engine.beginBatch?.bind(engine);
  if (!own || !onBeginError) return own;
  return (request) =>
    new Promise<DirectBatch>((resolve) => resolve(own(request))).catch((e: unknown) => {
      onBeginError(e);
      return hostBatch(engine, request);
    });
}

type Layout = 'rgb' | 'nv12';

/** The batch being filled: its memory (a pooled buffer or an engine's batch) and frames so far. */
interface OpenBatch {
  readonly layout: Layout;
  readonly frameBytes: number;
  readonly infos: FrameInfo[];
  oldestAt: number;
  /** Where frame `i` is written. */
  target(i: number, color: FrameColor | undefined): Uint8Array;
  /** The frames so far as a batch, handed downstream. */
  close(): FrameBatch;
  /** Gives the memory back unused (a batch left empty, unsubscribe). */
  abandon(): void;
}

/**
 * Packs frames from any number of merged streams into [count, H, W, 3] batches (NV12 frames one
 * after another). A batch holds one pixel layout: a frame of the other layout sends the batch so
 * far out first. NV12 frames of different colours share a batch (each FrameInfo has its own
 * colour; the engine converts per frame). Each frame is copied into the current batch's memory
 * as it arrives and released at once: a pooled buffer (`batch.data`, reused after
 * `batch.release()`) or, with `beginBatch`, the engine's staging memory. Completion and errors
 * wait until every frame received has been emitted in a batch.
 */
export function batchFrames(options: BatchOptions): OperatorFunction<Frame, FrameBatch> {
  const { maxBatch, maxDelayMs, beginBatch } = options;
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1))
    throw new OptionError(`batchFrames: maxBatch must be an integer >= 1, got ${maxBatch}`, {
      input: 'maxBatch',
    });
  if (!(maxDelayMs >= 0))
    throw new OptionError(`batchFrames: maxDelayMs must be >= 0, got ${maxDelayMs}`, { input: 'maxDelayMs' });
  const maxInFlight = options.maxInFlight ?? Number.POSITIVE_INFINITY;
  const scheduler = options.scheduler ?? asyncScheduler;

  return (source) =>
    new Observable<FrameBatch>((subscriber) => {
      let dims: { width: number; height: number } | undefined;
      let pool: BufferPool | undefined;
      let cur: OpenBatch | undefined;
      /** An engine batch asked for and not yet given (beginBatch is asynchronous). */
      let opening = false;
      /** Batches open or emitted and not yet released: what maxInFlight counts. */
      let outstanding = 0;
      /** Engine batches emitted and not yet submitted or released: cancelled if the stream dies. */
      const unsubmitted = new Set<DirectBatch>();
      const pending: { frame: Frame; at: number }[] = []; // frames waiting for a batch to open
      let timer: Subscription | undefined;
      let terminal: { error?: unknown } | undefined;
      let closed = false;
      let completed = false;

      const arm = (at: number) => {
        timer?.unsubscribe();
        timer = scheduler.schedule(
          () => {
            timer = undefined;
            if (cur && cur.infos.length > 0) emitCurrent();
          },
          Math.max(0, at + maxDelayMs - scheduler.now()),
        );
      };

      const released = () => {
        outstanding--;
        drain();
      };

      const pooledBatch = (layout: Layout, bytes: number): OpenBatch => {
        const p = pool as BufferPool;
        const buf = p.acquire();
        const infos: FrameInfo[] = [];
        let given = false;
        const giveBack = () => {
          if (given) return false;
          given = true;
          p.release(buf);
          return true;
        };
        return {
          layout,
          frameBytes: bytes,
          infos,
          oldestAt: 0,
          target: (i) => buf.subarray(i * bytes, (i + 1) * bytes),
          close: () => ({
            frames: infos,
            ...batchFormat(layout, infos),
            count: infos.length,
            data: buf.subarray(0, infos.length * bytes),
            release: () => {
              if (giveBack()) released();
            },
          }),
          abandon: () => {
            if (giveBack()) outstanding--;
          },
        };
      };

      const engineBatch = (layout: Layout, direct: DirectBatch): OpenBatch => {
        const infos: FrameInfo[] = [];
        let first: Uint8Array | undefined;
        let done = false;
        return {
          layout,
          frameBytes: direct.frameBytes,
          infos,
          oldestAt: 0,
          target: (i, color) => {
            const view = direct.frame(i, layout === 'nv12' ? color : undefined);
            if (i === 0) first = view;
            return view;
          },
          close: () => {
            const count = infos.length;
            const v = first as Uint8Array;
            unsubmitted.add(direct);
            const batch: EngineFrameBatch = {
              frames: infos,
              ...batchFormat(layout, infos),
              count,
              // The frames are contiguous in the engine's memory, as in a pooled buffer.
              data: new Uint8Array(v.buffer, v.byteOffset, count * direct.frameBytes),
              submit: () => {
                unsubmitted.delete(direct);
                return direct.submit(count);
              },
              release: () => {
                if (done) return;
                done = true;
                if (unsubmitted.delete(direct)) direct.cancel();
                released();
              },
            };
            return batch;
          },
          abandon: () => {
            if (done) return;
            done = true;
            direct.cancel();
            outstanding--;
          },
        };
      };

      /** True when `cur` can take `frame` now; else opens one (at once, or asks the engine). */
      const ensureOpen = (frame: Frame): boolean => {
        const layout = frame.pixelFormat ?? 'rgb';
        if (cur && cur.infos.length === 0 && cur.layout !== layout) {
          cur.abandon();
          cur = undefined;
        }
        if (cur) return true;
        if (opening || outstanding >= maxInFlight) return false;
        const d = dims as NonNullable<typeof dims>;
        if (!beginBatch) {
          outstanding++;
          cur = pooledBatch(layout, frameBytes(d, layout));
          return true;
        }
        opening = true;
        outstanding++;
        let asked: Promise<DirectBatch>;
        try {
          asked = beginBatch({ kind: layout, count: maxBatch });
        } catch (e) {
          asked = Promise.reject(e);
        }
        asked.then(
          (direct) => {
            opening = false;
            if (closed) {
              direct.cancel();
              outstanding--;
              return;
            }
            cur = engineBatch(layout, direct);
            drain();
          },
          (err: unknown) => {
            opening = false;
            outstanding--;
            if (!closed) fail(err);
          },
        );
        return false;
      };

      /** Writes `frame` into the open batch; false when it must wait for a batch of its layout. */
      const take = (frame: Frame, at: number): boolean => {
        const d = dims as NonNullable<typeof dims>;
        const layout = frame.pixelFormat ?? 'rgb';
        const bytes = frameBytes(d, layout);
        if (frame.width !== d.width || frame.height !== d.height || frame.rgb.byteLength !== bytes) {
          throw new InputError(
            `batchFrames: frame ${frame.index} of stream ${frame.streamId} is ${frame.width}x${frame.height} ${layout} (${frame.rgb.byteLength} bytes); this stream of batches holds ${d.width}x${d.height} frames (${bytes} bytes as ${layout})`,
            { input: frame.streamId },
          );
        }
        // A batch is one layout: the engine reads a whole batch one way.
        if (cur && cur.infos.length > 0 && cur.layout !== layout) emitCurrent();
        if (!ensureOpen(frame)) return false;
        const c = cur as OpenBatch;
        if (c.frameBytes !== bytes)
          throw new InputError(
            `batchFrames: frame ${frame.index} of stream ${frame.streamId} is ${frame.width}x${frame.height} ${layout} (${bytes} bytes); the engine's batch takes ${c.frameBytes} bytes a frame`,
            { input: frame.streamId },
          );
        c.target(c.infos.length, frame.color).set(frame.rgb);
        const { streamId, index, ptsMs, receivedAtMs, width, height } = frame;
        c.infos.push({
          streamId,
          index,
          ptsMs,
          receivedAtMs,
          width,
          height,
          ...(frame.file !== undefined && { file: frame.file }),
          ...(frame.pixelFormat && { pixelFormat: frame.pixelFormat }),
          ...(frame.color && { color: frame.color }),
        });
        if (c.infos.length === 1) {
          c.oldestAt = at;
          arm(at);
        }
        if (c.infos.length === maxBatch) emitCurrent();
        // Last: a release may hand us the source's next frame at once (decodeFrames' flow control
        // does), and that frame must find a full batch already gone, not one more slot past its end.
        frame.release?.();
        return true;
      };

      function emitCurrent() {
        const c = cur;
        if (!c || c.infos.length === 0) return;
        cur = undefined;
        timer?.unsubscribe();
        timer = undefined;
        subscriber.next(c.close());
      }

      // Moves waiting frames into open batches; emits what is full or overdue; delivers a held completion.
      function drain() {
        if (closed) return;
        try {
          while (pending.length > 0 && ensureOpen((pending[0] as { frame: Frame }).frame)) {
            const { frame, at } = pending.shift() as { frame: Frame; at: number };
            if (!take(frame, at)) {
              pending.unshift({ frame, at });
              break;
            }
          }
        } catch (err) {
          fail(err);
          return;
        }
        if (cur && cur.infos.length > 0 && (terminal || cur.oldestAt + maxDelayMs <= scheduler.now()))
          emitCurrent();
        if (terminal && pending.length === 0 && !opening && !cur?.infos.length) {
          cur?.abandon();
          cur = undefined;
          closed = true;
          if (terminal.error !== undefined) subscriber.error(terminal.error);
          else {
            completed = true;
            subscriber.complete();
          }
        }
      }

      function fail(err: unknown) {
        closed = true;
        subscriber.error(err);
      }

      const sub = source.subscribe({
        next: (frame) => {
          if (closed) {
            frame.release?.();
            return;
          }
          if (!dims) {
            // The first frame sets the size; buffers fit RGB, the largest layout, so any mix fits.
            dims = { width: frame.width, height: frame.height };
            if (!beginBatch)
              pool = new BufferPool(
                maxBatch * frameBytes(frame, 'rgb'),
                Number.isFinite(maxInFlight) ? maxInFlight : 4,
              );
          }
          const at = scheduler.now();
          try {
            if (pending.length > 0 || !take(frame, at)) pending.push({ frame, at });
          } catch (err) {
            fail(err);
          }
        },
        error: (error) => {
          terminal = { error };
          drain();
        },
        complete: () => {
          terminal = {};
          drain();
        },
      });

      return () => {
        closed = true;
        sub.unsubscribe();
        timer?.unsubscribe();
        cur?.abandon();
        cur = undefined;
        for (const p of pending.splice(0)) p.frame.release?.();
        // Emitted engine batches nobody will submit hold the engine's slots: give them back,
        // unless the stream completed and they are on their way downstream.
        if (!completed) for (const d of unsubmitted) d.cancel();
        unsubmitted.clear();
      };
    });
}

/** A batch's layout, and its colour where all its frames share one. */
function batchFormat(layout: Layout, infos: FrameInfo[]): Pick<FrameBatch, 'pixelFormat' | 'color'> {
  if (layout === 'rgb') return {};
  const c = infos[0]?.color;
  const shared = c && infos.every((f) => f.color?.matrix === c.matrix && f.color?.range === c.range);
  return { pixelFormat: 'nv12', ...(shared && { color: { ...c } }) };
}
