import { defer, map, type Observable } from 'rxjs';
import { VideoSourceError } from '../errors.js';
import { type DecodeOptions, decodeFrames } from '../operators/decodeFrames.js';
import { type BackoffOptions, reconnect } from '../operators/reconnect.js';
import type { Frame } from './frame.js';
import { resolveSource, type VideoSource } from './source.js';

export interface LiveOptions extends DecodeOptions {
  /** Reconnect delays for live sources (defaults: 500 ms doubling to 30 s, forever). */
  backoff?: BackoffOptions;
}

/**
 * decodeFrames for a source that should keep running: a live source that fails or ends is reopened
 * with backoff (reported as 'error' then 'reconnecting' events); frame indices keep counting across
 * reconnections, while ptsMs restarts with each connection, as the feed's clock does. Non-live
 * sources pass through once.
 */
export function openSource(source: VideoSource | string, options: LiveOptions): Observable<Frame> {
  const src = resolveSource(source);
  if (!src.live) return decodeFrames(src, options);
  const onEvent = options.onEvent;
  return defer(() => {
    let next = 0; // index of the next frame across connections
    let base = 0;
    let attempt = 0;
    return defer(() => {
      base = next;
      const thisAttempt = attempt;
      return decodeFrames(src, {
        ...options,
        onEvent: onEvent && ((e) => onEvent(e.type === 'started' ? { ...e, attempt: thisAttempt } : e)),
      });
    }).pipe(
      map((f) => {
        f.index += base;
        next = f.index + 1;
        return f;
      }),
      reconnect({
        ...options.backoff,
        // A file played as live ends when the file does: that is its natural end, not a fault
        // (use `loop` to play it forever). Cameras and network feeds are never expected to end.
        completeIsFailure: src.kind === 'file' ? undefined : () => {
          // decodeFrames reports its own errors as events; this one is ours.
          const error = new VideoSourceError(`video source ${src.input}: live stream ended unexpectedly`, {
            input: src.input,
          });
          onEvent?.({ type: 'error', streamId: src.id, atMs: Date.now(), error });
          return error;
        },
        onRetry: ({ attempt: a, delayMs }) => {
          attempt = a;
          onEvent?.({ type: 'reconnecting', streamId: src.id, atMs: Date.now(), attempt: a, delayMs });
        },
      }),
    );
  });
}
