import { type MonoTypeOperatorFunction, Observable, type Subscribable } from 'rxjs';
import { VideoSourceError } from '../errors.js';

export type StallKind = 'first-frame' | 'no-frame';

export interface WatchdogOptions {
  /**
   * Longest wait for the first frame after subscribing (default 15 000 ms; 0 disables). Generous,
   * because a camera may send its first keyframe only after a full GOP and RTSP needs a handshake.
   */
  firstFrameTimeoutMs?: number;
  /** Longest gap between two frames once frames flow (default 10 000 ms; 0 disables). */
  noFrameTimeoutMs?: number;
  /**
   * Signs of life other than values: a source that samples (decodeFrames' `sample`) emits one frame
   * in many, yet is not stalled while it decodes the others. Each value re-arms the limits as a
   * value of the source does, the first one included.
   */
  activity?: Subscribable<unknown>;
  /**
   * The source's process started (each value: a start, e.g. ffmpeg spawned). When given, the
   * first-frame limit counts from the latest start instead of from subscription: time spent before
   * it is not the source being silent (the once-per-process NVDEC probe compiles CUDA kernels for
   * ~10 s on a cold cache, during which dozens of feeds wait). Until a start, `startGraceMs` more
   * is allowed, so that a start that never comes still ends in a stall.
   */
  started?: Subscribable<unknown>;
  /** With `started`: how much longer than the first-frame limit a source may take to start (default 60 s). */
  startGraceMs?: number;
  /** Told just before the stream errors, e.g. to SIGKILL the ffmpeg that hung. */
  onStall?: (stall: { kind: StallKind; waitedMs: number }) => void;
  /** Clock (ms), injected by tests. */
  now?: () => number;
}

export const DEFAULT_FIRST_FRAME_TIMEOUT_MS = 15_000;
export const DEFAULT_NO_FRAME_TIMEOUT_MS = 10_000;
/** The NVDEC probe runs two ffmpegs of up to 30 s each before a source's first ffmpeg starts. */
export const DEFAULT_START_GRACE_MS = 60_000;

/** Error raised by `watchdog`; `kind` says which timeout fired. */
export class StallError extends VideoSourceError {
  constructor(
    input: string,
    readonly kind: StallKind,
    readonly waitedMs: number,
  ) {
    super(
      kind === 'first-frame'
        ? `video source ${input}: stalled: no first frame within ${Math.round(waitedMs)} ms (first-frame timeout)`
        : `video source ${input}: stalled: no frame for ${Math.round(waitedMs)} ms (no-frame timeout)`,
      { input },
    );
  }
}

/**
 * Errors with a StallError when the source goes quiet: ffmpeg's own network timeouts do not cover
 * every hang (a camera that keeps the TCP connection open but sends nothing, a decoder stuck on a
 * broken stream). The error unsubscribes the source, which stops its ffmpeg; put `reconnect` after
 * this to restart it. One timer per subscription, re-armed lazily rather than per frame.
 */
export function watchdog<T>(input: string, options: WatchdogOptions = {}): MonoTypeOperatorFunction<T> {
  const firstMs = options.firstFrameTimeoutMs ?? DEFAULT_FIRST_FRAME_TIMEOUT_MS;
  const gapMs = options.noFrameTimeoutMs ?? DEFAULT_NO_FRAME_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  return (source) =>
    new Observable<T>((subscriber) => {
      let startedAt = now();
      // Before the source says it started, the first-frame limit has the start grace on top.
      let starting = options.started !== undefined;
      const graceMs = options.startGraceMs ?? DEFAULT_START_GRACE_MS;
      let lastAt: number | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let done = false;
      const limit = () =>
        lastAt !== undefined ? gapMs : starting && firstMs > 0 ? firstMs + graceMs : firstMs;
      const check = () => {
        timer = undefined;
        if (done) return;
        const since = lastAt ?? startedAt;
        const waited = now() - since;
        const ms = limit();
        if (ms <= 0) return;
        if (waited < ms) {
          arm(ms - waited);
          return;
        }
        done = true;
        const kind: StallKind = lastAt === undefined ? 'first-frame' : 'no-frame';
        options.onStall?.({ kind, waitedMs: waited });
        subscriber.error(new StallError(input, kind, waited));
      };
      const arm = (ms: number) => {
        timer = setTimeout(check, Math.max(1, ms));
        timer.unref?.();
      };
      if (firstMs > 0) arm(limit());
      const start = () => {
        if (lastAt !== undefined || done) return;
        starting = false;
        startedAt = now();
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (firstMs > 0) arm(firstMs);
      };
      const alive = () => {
        const first = lastAt === undefined;
        lastAt = now();
        // Switching from the first-frame limit to the gap limit: the pending timer is for the
        // first-frame length, which may be longer, so start the gap's own. Later values only move
        // lastAt; the timer re-arms itself lazily when it fires.
        if (first) {
          if (timer) clearTimeout(timer);
          timer = undefined;
          if (gapMs > 0) arm(gapMs);
        }
      };
      const startSignal = options.started?.subscribe({ next: start });
      const activity = options.activity?.subscribe({ next: alive });
      const sub = source.subscribe({
        next: (v) => {
          alive();
          subscriber.next(v);
        },
        error: (e) => {
          done = true;
          subscriber.error(e);
        },
        complete: () => {
          done = true;
          subscriber.complete();
        },
      });
      return () => {
        done = true;
        if (timer) clearTimeout(timer);
        activity?.unsubscribe();
        startSignal?.unsubscribe();
        sub.unsubscribe();
      };
    });
}
