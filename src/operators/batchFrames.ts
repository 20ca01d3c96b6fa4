import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { InputError, OptionError } from '../errors.js';
import { frameBytes } from '../video/args.js';
import { BufferPool } from '../video/bufferPool.js';
import type { Frame, FrameBatch, FrameInfo } from '../video/frame.js';

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
  scheduler?: SchedulerLike;
}

/**
 * Packs frames from any number of merged streams into [count, H, W, 3] batches (NV12 frames one
 * after another). A batch holds one pixel format and colour: a frame that differs sends the batch
 * so far out first. Each frame is copied
 * into the current batch buffer as it arrives and released at once. `batch.data` is a view into a
 * pooled buffer: call `batch.release()` when done so the buffer is reused. Completion and errors
 * wait until every frame received has been emitted in a batch.
 */
export function batchFrames(options: BatchOptions): OperatorFunction<Frame, FrameBatch> {
  const { maxBatch, maxDelayMs } = options;
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
      let cur:
        | {
            buf: Uint8Array;
            infos: FrameInfo[];
            oldestAt: number;
            layout: string;
            frameBytes: number;
            format: Pick<FrameBatch, 'pixelFormat' | 'color'>;
          }
        | undefined;
      const pending: { frame: Frame; at: number }[] = []; // frames waiting for a free batch buffer
      let timer: Subscription | undefined;
      let terminal: { error?: unknown } | undefined;
      let closed = false;

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

      const take = (frame: Frame, at: number) => {
        const d = dims as NonNullable<typeof dims>;
        const format = frame.pixelFormat ?? 'rgb';
        const bytes = frameBytes(d, format);
        if (frame.width !== d.width || frame.height !== d.height || frame.rgb.byteLength !== bytes) {
          throw new InputError(
            `batchFrames: frame ${frame.index} of stream ${frame.streamId} is ${frame.width}x${frame.height} ${format} (${frame.rgb.byteLength} bytes); this stream of batches holds ${d.width}x${d.height} frames (${bytes} bytes as ${format})`,
            { input: frame.streamId },
          );
        }
        // A batch is one layout and one colour: the engine converts a whole batch one way.
        const layout = format === 'rgb' ? 'rgb' : `${format}:${frame.color?.matrix}:${frame.color?.range}`;
        if (cur && cur.infos.length > 0 && cur.layout !== layout) {
          emitCurrent();
          if (!ensureBuffer()) {
            pending.unshift({ frame, at });
            return;
          }
        }
        const c = cur as NonNullable<typeof cur>;
        if (c.infos.length === 0) {
          c.layout = layout;
          c.frameBytes = bytes;
          if (format === 'rgb') c.format = {};
          else c.format = { pixelFormat: format, ...(frame.color && { color: { ...frame.color } }) };
        }
        c.buf.set(frame.rgb, c.infos.length * c.frameBytes);
        const { streamId, index, ptsMs, receivedAtMs, width, height } = frame;
        c.infos.push({
          streamId,
          index,
          ptsMs,
          receivedAtMs,
          width,
          height,
          ...(frame.file !== undefined && { file: frame.file }),
          // Per frame too: an engine that takes a colour per frame needs no split batches.
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
      };

      const ensureBuffer = (): boolean => {
        if (cur) return true;
        if (!pool || pool.outstanding >= maxInFlight) return false;
        cur = { buf: pool.acquire(), infos: [], oldestAt: 0, layout: '', frameBytes: 0, format: {} };
        return true;
      };

      function emitCurrent() {
        const c = cur;
        if (!c || c.infos.length === 0) return;
        cur = undefined;
        timer?.unsubscribe();
        timer = undefined;
        const p = pool as BufferPool;
        let released = false;
        const batch: FrameBatch = {
          frames: c.infos,
          ...c.format,
          count: c.infos.length,
          data: c.buf.subarray(0, c.infos.length * c.frameBytes),
          release: () => {
            if (released) return;
            released = true;
            p.release(c.buf);
            drain();
          },
        };
        subscriber.next(batch);
      }

      // Moves waiting frames into free buffers; emits what is full or overdue; delivers a held completion.
      function drain() {
        if (closed) return;
        try {
          while (pending.length > 0 && ensureBuffer()) {
            const { frame, at } = pending.shift() as { frame: Frame; at: number };
            take(frame, at);
          }
        } catch (err) {
          fail(err);
          return;
        }
        if (cur && cur.infos.length > 0 && (terminal || cur.oldestAt + maxDelayMs <= scheduler.now()))
          emitCurrent();
        if (terminal && pending.length === 0 && !cur) {
          closed = true;
          if (terminal.error !== undefined) subscriber.error(terminal.error);
          else subscriber.complete();
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
          if (!pool) {
            // The first frame sets the size; buffers fit RGB, the largest layout, so any mix fits.
            dims = { width: frame.width, height: frame.height };
            pool = new BufferPool(
              maxBatch * frameBytes(frame, 'rgb'),
              Number.isFinite(maxInFlight) ? maxInFlight : 4,
            );
          }
          const at = scheduler.now();
          if (pending.length > 0 || !ensureBuffer()) {
            pending.push({ frame, at });
            return;
          }
          try {
            take(frame, at);
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
        for (const p of pending.splice(0)) p.frame.release?.();
      };
    });
}
