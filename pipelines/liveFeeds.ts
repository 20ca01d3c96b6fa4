import {
  catchError,
  defer,
  EMPTY,
  finalize,
  from,
  merge,
  mergeMap,
  type Observable,
  Subject,
  takeUntil,
} from 'rxjs';
import { FeedRegistryError } from '../src/errors.js';
import { type BatchOptions, batchFrames } from '../src/operators/batchFrames.js';
import type { DropPolicy } from '../src/video/decodeFrames.js';
import type { SourceEvent } from '../src/video/events.js';
import type { Frame, FrameBatch, SkippedFrame } from '../src/video/frame.js';
import { checkSampleOptions, type SampleOptions } from '../src/video/frameSampler.js';
import { type ResolvedSource, resolveSource, type VideoSource } from '../src/video/source.js';
import { type LiveOptions, openSource } from './liveSource.js';

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
  /**
   * Keep `batches` open when every source has ended or been removed, waiting for `add` (a server).
   * Default false: `batches` completes once no source is left (files played once).
   */
  keepAlive?: boolean;
  /** Told of each frame the sampling (`sample`, `every`/`fps`) left out. */
  onSkipped?: (frame: SkippedFrame) => void;
  /**
   * Frames written straight into the engine's batches (batchFrames' `beginBatch`, see
   * engineBeginBatch); absent: pooled batch buffers for engine.infer(). Frames waiting for a
   * batch stay unreleased either way, so the sources' drop policy sees the same back-pressure.
   */
  beginBatch?: BatchOptions['beginBatch'];
}

/** A source as given to liveFeeds or `add`: where frames come from, plus per-feed sampling and drop policy. */
export interface FeedSource extends VideoSource {
  sample?: SampleOptions;
  policy?: DropPolicy;
}

/** Source events, plus the registry's own: a feed added or removed at run time. */
export type FeedEvent =
  | SourceEvent
  | { type: 'added'; streamId: string; atMs: number; source: ResolvedSource }
  | { type: 'removed'; streamId: string; atMs: number };

export interface LiveFeeds {
  /** Batches across all sources; subscribing starts every source, unsubscribing stops them. Subscribe once. */
  batches: Observable<FrameBatch>;
  /** started / stats / error / stalled / reconnecting / recovered / ended, added / removed, for every source. */
  events: Observable<FeedEvent>;
  /** Starts another source now (or at subscription); throws a FeedRegistryError if its id is taken or every feed has ended. */
  add(source: string | FeedSource): ResolvedSource;
  /** Stops a source: its ffmpeg is killed and its buffers freed. False if no such id. */
  remove(id: string): boolean;
  /** Sources running or waiting for subscription, in the order they were added. */
  list(): ResolvedSource[];
  has(id: string): boolean;
}

interface Entry {
  source: ResolvedSource;
  spec: FeedSource;
  stop: Subject<void>;
}

/**
 * Several independent feeds into one batch stream, as a registry: feeds can be added and removed
 * while it runs, each with its own subscription (takeUntil its own stop signal), so removing one
 * never pauses the others. Each live source reconnects on its own; one that gives up
 * (backoff.maxRetries) or a non-live one that fails ends with an 'ended' event while the others
 * carry on, and leaves the registry. When the consumer falls behind, live sources drop frames
 * (counted in 'stats' events) rather than build latency.
 */
export function liveFeeds(sources: (string | FeedSource)[], options: LiveFeedsOptions): LiveFeeds {
  const {
    sample,
    maxBatch,
    maxDelayMs = 100,
    maxInFlight = 2,
    policyFor,
    sampleFor,
    maxUnreleasedPerSource = 2,
    keepAlive = false,
    onSkipped,
    beginBatch,
    ...decode
  } = options;
  const events = new Subject<FeedEvent>();
  const entries = new Map<string, Entry>();
  const added = new Subject<Entry>();
  let active = 0;
  let ended = false;

  const framesOf = (e: Entry): Observable<Frame> => {
    const src = e.source;
    return openSource(src, {
      ...decode,
      policy: e.spec.policy ?? policyFor?.(src) ?? decode.policy,
      maxUnreleased: maxUnreleasedPerSource,
      // Sampled inside the source, before its drop policy: a burst is thinned to the frames wanted
      // before the policy looks at it (issue #25: HLS segments arrive a segment at a time).
      sample: e.spec.sample ?? sampleFor?.(src) ?? sample,
      onSkip: onSkipped,
      onEvent: (ev) => events.next(ev),
    }).pipe(
      // The failure was already reported as an 'error' event; this source stops, the others go on.
      catchError(() => EMPTY),
    );
  };

  const add = (s: string | FeedSource): ResolvedSource => {
    if (ended) throw new FeedRegistryError('liveFeeds: every feed has ended; no more can be added', 'closed');
    const spec: FeedSource = typeof s === 'string' ? { path: s } : s;
    const source = resolveSource(spec, entries.size);
    const keep = spec.sample ?? sampleFor?.(source) ?? sample;
    if (keep) checkSampleOptions(keep);
    if (entries.has(source.id))
      throw new FeedRegistryError(
        `liveFeeds: a stream with id "${source.id}" already exists`,
        'duplicate-id',
        {
          input: source.id,
        },
      );
    const entry: Entry = { source, spec, stop: new Subject<void>() };
    entries.set(source.id, entry);
    events.next({ type: 'added', streamId: source.id, atMs: Date.now(), source });
    added.next(entry);
    return source;
  };
  for (const s of sources) add(s);

  const batches = defer(() => merge(from([...entries.values()]), added)).pipe(
    mergeMap((e) => {
      active++;
      return framesOf(e).pipe(
        takeUntil(e.stop),
        finalize(() => {
          active--;
          // A source that ended on its own leaves the registry; a removed one has left already.
          if (entries.get(e.source.id) === e) entries.delete(e.source.id);
          if (active === 0 && entries.size === 0 && !keepAlive) {
            ended = true;
            added.complete();
          }
        }),
      );
    }),
    batchFrames({ maxBatch, maxDelayMs, maxInFlight, beginBatch }),
  );
  if (entries.size === 0 && !keepAlive) {
    ended = true;
    added.complete();
  }

  return {
    batches,
    events: events.asObservable(),
    add,
    remove(id) {
      const e = entries.get(id);
      if (!e) return false;
      entries.delete(id);
      e.stop.next();
      e.stop.complete();
      events.next({ type: 'removed', streamId: id, atMs: Date.now() });
      return true;
    },
    list: () => [...entries.values()].map((e) => e.source),
    has: (id) => entries.has(id),
  };
}
