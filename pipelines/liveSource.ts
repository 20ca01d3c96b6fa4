import { defer, map, type Observable, Subject } from 'rxjs';
import { VideoSourceError } from '../src/errors.js';
import { type BackoffOptions, reconnect } from '../src/operators/reconnect.js';
import { watchdog } from '../src/operators/watchdog.js';
import { type DecodeOptions, decodeFrames } from '../src/video/decodeFrames.js';
import type { Frame } from '../src/video/frame.js';
import { resolveSource, type VideoSource } from '../src/video/source.js';
import { signalGroup } from '../src/video/spawn.js';

export interface LiveOptions extends DecodeOptions {
  /** Reconnect delays for live sources (defaults: 500 ms doubling to 30 s, forever). */
  backoff?: BackoffOptions;
  /** Stall watchdog, live sources only: longest wait for a connection's first frame (default 15 s; 0 disables). */
  firstFrameTimeoutMs?: number;
  /** Stall watchdog, live sources only: longest gap between frames (default 10 s; 0 disables). */
  noFrameTimeoutMs?: number;
}

/**
 * decodeFrames for a source that should keep running: a live source that fails, ends or stalls is
 * reopened with backoff (reported as 'error' or 'stalled', then 'reconnecting' events, and
 * 'recovered' at the first frame back); frame indices keep counting across reconnections, while
 * ptsMs restarts with each connection, as the feed's clock does. A stalled ffmpeg is SIGKILLed with
 * its process group at once: one that hangs may not honour SIGTERM. Non-live sources pass through once.
 */
export function openSource(source: VideoSource | string, options: LiveOptions): Observable<Frame> {
  const src = resolveSource(source);
  if (!src.live) return decodeFrames(src, options);
  const onEvent = options.onEvent;
  return defer(() => {
    let next = 0; // index of the next frame across connections
    let base = 0;
    let attempt = 0;
    let pid: number | undefined;
    let downSince: number | undefined; // set when a connection fails, cleared by the next frame
    let restarts = 0;
    return defer(() => {
      base = next;
      const thisAttempt = attempt;
      pid = undefined;
      // Frames the sampling leaves out still prove the feed alive and still count in indices.
      const skipped = new Subject<void>();
      return decodeFrames(src, {
        ...options,
        processGroup: options.processGroup ?? true,
        onSkip: (f) => {
          f.index += base;
          next = f.index + 1;
          skipped.next();
          options.onSkip?.(f);
        },
        onEvent: (e) => {
          if (e.type === 'started') pid = e.pid;
          onEvent?.(e.type === 'started' ? { ...e, attempt: thisAttempt } : e);
        },
      }).pipe(
        watchdog<Frame>(src.input, {
          firstFrameTimeoutMs: src.firstFrameTimeoutMs ?? options.firstFrameTimeoutMs,
          noFrameTimeoutMs: src.noFrameTimeoutMs ?? options.noFrameTimeoutMs,
          activity: skipped,
          onStall: ({ kind, waitedMs }) => {
            onEvent?.({ type: 'stalled', streamId: src.id, atMs: Date.now(), kind, waitedMs, pid });
            if (pid !== undefined) signalGroup(pid, 'SIGKILL');
          },
        }),
      );
    }).pipe(
      map((f) => {
        f.index += base;
        next = f.index + 1;
        if (downSince !== undefined) {
          onEvent?.({
            type: 'recovered',
            streamId: src.id,
            atMs: Date.now(),
            downMs: Date.now() - downSince,
            restarts,
          });
          downSince = undefined;
          restarts = 0;
        }
        return f;
      }),
      reconnect({
        ...options.backoff,
        // A file played as live ends when the file does: that is its natural end, not a fault
        // (use `loop` to play it forever). Cameras and network feeds are never expected to end.
        completeIsFailure:
          src.kind === 'file'
            ? undefined
            : () => {
                // decodeFrames reports its own errors as events; this one is ours.
                const error = new VideoSourceError(
                  `video source ${src.input}: live stream ended unexpectedly`,
                  {
                    input: src.input,
                  },
                );
                onEvent?.({ type: 'error', streamId: src.id, atMs: Date.now(), error });
                return error;
              },
        onRetry: ({ attempt: a, delayMs }) => {
          attempt = a;
          downSince ??= Date.now();
          restarts++;
          onEvent?.({ type: 'reconnecting', streamId: src.id, atMs: Date.now(), attempt: a, delayMs });
        },
      }),
    );
  });
}
