import { catchError, EMPTY, merge, type Observable, Subject } from 'rxjs';
import { batchFrames } from '../src/operators/batchFrames.js';
import type { DropPolicy } from '../src/operators/decodeFrames.js';
import { type SampleOptions, sampleFrames } from '../src/operators/sampleFrames.js';
import type { SourceEvent } from '../src/video/events.js';
import type { FrameBatch } from '../src/video/frame.js';
import { type LiveOptions, openSource } from '../src/video/live.js';
import { resolveSource, type VideoSource } from '../src/video/source.js';

export interface LiveFeedsOptions extends Omit<LiveOptions, 'onEvent' | 'maxUnreleased'> {
  sample?: SampleOptions;
  maxBatch: number;
  /** Default 100 ms: the latency a frame may spend waiting for companions. */
  maxDelayMs?: number;
  /** Batches out and unreleased before frames start waiting (and, for live feeds, dropping). Default 2. */
  maxInFlight?: number;
  /** Per-source override of the drop policy. */
  policyFor?: (source: VideoSource) => DropPolicy | undefined;
  /** Per-source override of `sample`. */
  sampleFor?: (source: VideoSource) => SampleOptions | undefined;
  /** Frames each source may have out unreleased (default 2): keeps the wait, hence latency, short. */
  maxUnreleasedPerSource?: number;
}

export interface LiveFeeds {
  /** Batches across all sources; subscribing starts every source, unsubscribing stops them. */
  batches: Observable<FrameBatch>;
  /** started / stats / error / reconnecting / ended, for every source. */
  events: Observable<SourceEvent>;
}

/**
 * Several independent feeds into one batch stream. Each live source reconnects on its own; one
 * that gives up (backoff.maxRetries) or a non-live one that fails ends with an 'ended' event while
 * the others carry on. When the consumer falls behind, live sources drop frames (counted in
 * 'stats' events) rather than build latency.
 */
export function liveFeeds(sources: (string | VideoSource)[], options: LiveFeedsOptions): LiveFeeds {
  const {
    sample,
    maxBatch,
    maxDelayMs = 100,
    maxInFlight = 2,
    policyFor,
    sampleFor,
    maxUnreleasedPerSource = 2,
    ...decode
  } = options;
  const events = new Subject<SourceEvent>();
  const batches = merge(
    ...sources.map((s, i) => {
      const src = resolveSource(s, i);
      const frames = openSource(src, {
        ...decode,
        policy: policyFor?.(src) ?? decode.policy,
        maxUnreleased: maxUnreleasedPerSource,
        onEvent: (e) => events.next(e),
      }).pipe(
        // The failure was already reported as an 'error' event; this source stops, the others go on.
        catchError(() => EMPTY),
      );
      const keep = sampleFor?.(src) ?? sample;
      return keep ? frames.pipe(sampleFrames(keep)) : frames;
    }),
  ).pipe(batchFrames({ maxBatch, maxDelayMs, maxInFlight }));
  return { batches, events: events.asObservable() };
}
