import {
  catchError,
  concatWith,
  defer,
  EMPTY,
  from,
  map,
  type Observable,
  Subject,
  switchMap,
  throwError,
} from 'rxjs';
import { VideoSourceError } from '../src/errors.js';
import { type BackoffOptions, reconnect } from '../src/operators/reconnect.js';
import { DEFAULT_NO_FRAME_TIMEOUT_MS, watchdog } from '../src/operators/watchdog.js';
import { type DecodeOptions, decodeFrames } from '../src/video/decodeFrames.js';
import type { Frame } from '../src/video/frame.js';
import {
  DEFAULT_TARGET_DURATION_MS,
  fetchHlsPlaylist,
  type HlsPlaylist,
  hlsWriterGone,
  isHlsUrl,
} from '../src/video/hlsPlaylist.js';
import { resolveSource, type VideoSource } from '../src/video/source.js';
import { signalGroup } from '../src/video/spawn.js';

export interface LiveOptions extends DecodeOptions {
  /** Reconnect delays for live sources (defaults: 500 ms doubling to 30 s, forever). */
  backoff?: BackoffOptions;
  /** Stall watchdog, live sources only: longest wait for a connection's first frame (default 15 s; 0 disables). */
  firstFrameTimeoutMs?: number;
  /** Stall watchdog, live sources only: longest gap between frames (default 10 s; 0 disables). */
  noFrameTimeoutMs?: number;
  /** HLS: how the playlist is read (tests inject a fetch; default: global fetch, 1 MiB, 5 s). */
  fetchPlaylist?: (url: string) => Promise<HlsPlaylist | undefined>;
}

/**
 * decodeFrames for a source that should keep running: a live source that fails, ends or stalls is
 * reopened with backoff (reported as 'error' or 'stalled', then 'reconnecting' events, and
 * 'recovered' at the first frame back); frame indices keep counting across reconnections, while
 * ptsMs restarts with each connection, as the feed's clock does. A stalled ffmpeg is SIGKILLed with
 * its process group at once: one that hangs may not honour SIGTERM. Non-live sources pass through once.
 *
 * HLS feeds are judged by their own clock, read from the playlist before each connection: frames
 * may wait up to two target durations of media time (a segment arrives at once: a burst the
 * consumer absorbs before the next one loses nothing), the no-frame limit is at least three target
 * durations, and the feed ends, once, when the writer has finished (#EXT-X-ENDLIST) or stopped:
 * when a connection ends, fails or stalls, the playlist is read again, and again a target duration
 * later; unchanged, the writer is gone. A finished playlist is never reopened: ffmpeg would replay
 * it (or its last segments) as a "recovered" feed.
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
    const hls = isHlsUrl(src.input, src.format);
    const readPlaylist = options.fetchPlaylist ?? ((url: string) => fetchHlsPlaylist(url));
    let connections = 0;
    let longestTargetMs = 0;
    let finished = false; // an HLS writer finished or stopped: the feed ends instead of retrying
    const endOnce = () => {
      finished = true;
      onEvent?.({
        type: 'ended',
        streamId: src.id,
        atMs: Date.now(),
        reason: 'complete',
        frames: next,
        dropped: 0,
      });
    };
    const connect = (playlist: HlsPlaylist | undefined): Observable<Frame> => {
      base = next;
      const thisAttempt = attempt;
      pid = undefined;
      connections++;
      // The longest seen: a writer's playlist may understate it while a long segment is being cut.
      longestTargetMs = Math.max(longestTargetMs, playlist?.targetDurationMs ?? 0);
      const targetMs = hls ? longestTargetMs || DEFAULT_TARGET_DURATION_MS : 0;
      const noFrameMs = src.noFrameTimeoutMs ?? options.noFrameTimeoutMs;
      // Frames the sampling leaves out still prove the feed alive and still count in indices.
      const decoded = new Subject<void>();
      let decodedHere = 0;
      // The first-frame limit counts from ffmpeg's start, not from the NVDEC probe before it.
      const started = new Subject<void>();
      return decodeFrames(src, {
        ...options,
        processGroup: options.processGroup ?? true,
        maxQueuedMs: hls ? Math.max(options.maxQueuedMs ?? 0, 2 * targetMs) : options.maxQueuedMs,
        onSkip: (f) => {
          f.index += base;
          options.onSkip?.(f);
        },
        onDecoded: () => {
          // Every frame is counted here, before it is emitted or told of as skipped (late, or never
          // when a stall ends the connection, where ffmpeg samples).
          next = base + ++decodedHere;
          decoded.next();
          options.onDecoded?.();
        },
        onEvent: (e) => {
          if (e.type === 'started') pid = e.pid;
          onEvent?.(e.type === 'started' ? { ...e, attempt: thisAttempt } : e);
          if (e.type === 'started') started.next();
        },
      }).pipe(
        watchdog<Frame>(src.input, {
          firstFrameTimeoutMs: src.firstFrameTimeoutMs ?? options.firstFrameTimeoutMs,
          // A playlist of 8 s segments is quiet for 8 s between bursts, and then some.
          noFrameTimeoutMs:
            hls && noFrameMs !== 0
              ? Math.max(noFrameMs ?? DEFAULT_NO_FRAME_TIMEOUT_MS, 3 * targetMs)
              : noFrameMs,
          activity: decoded,
          started,
          onStall: ({ kind, waitedMs }) => {
            onEvent?.({ type: 'stalled', streamId: src.id, atMs: Date.now(), kind, waitedMs, pid });
            if (pid !== undefined) signalGroup(pid, 'SIGKILL');
          },
        }),
      );
    };
    const writerGone = () => hlsWriterGone(src.input, readPlaylist);
    return defer(() => {
      if (!hls) return connect(undefined);
      return from(readPlaylist(src.input)).pipe(
        switchMap((playlist) => {
          // Reopening a finished playlist would replay it from its first segment.
          if (playlist?.ended && connections > 0) {
            endOnce();
            return EMPTY;
          }
          return connect(playlist).pipe(
            // A stall or failure of a writer that stopped is the feed's end too, not a reason to
            // reopen the playlist (ffmpeg would replay its last segments as a 'recovered' feed).
            catchError((err: unknown) =>
              from(writerGone()).pipe(
                switchMap((gone) => {
                  if (!gone) return throwError(() => err);
                  endOnce();
                  return EMPTY;
                }),
              ),
            ),
            concatWith(
              defer(async () => {
                if (!finished && (await writerGone())) finished = true;
              }).pipe(switchMap(() => EMPTY)),
            ),
          );
        }),
      );
    }).pipe(
      map((f) => {
        f.index += base;
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
                if (finished) return undefined;
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
