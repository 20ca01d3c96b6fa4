import type { KV, KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { networkUrlsOnly } from '../../pipelines/streamControl.js';
import {
  ClusterError,
  ConfigError,
  SourceRefusedError,
  StreamConflictError,
  StreamLimitError,
  StreamNotFoundError,
  StreamRequestError,
} from '../errors.js';
import { parseStreamRequest } from '../serve-config.js';
import type { StreamInfo } from '../server/protocol.js';
import { shorten, shortStreamId } from '../server/stream-id.js';
import type { StreamController } from '../server/streams.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { redactCredentials } from '../util/redact.js';
import { detectKind } from '../video/source.js';
import { addFeed, FeedExistsError, removeFeed } from './feeds.js';
import { openBuckets } from './layout.js';
import { decode, FeedDefinition, FeedLease } from './messages.js';
import { checkToken } from './subjects.js';

/** Request fields a worker's feed has no place for: refused by name rather than dropped. */
const NOT_FOR_CLUSTER_FEEDS = [
  'realtime',
  'live',
  'policy',
  'timeoutMs',
  'rtspTransport',
  'firstFrameTimeoutMs',
  'noFrameTimeoutMs',
] as const;

export interface ClusterStreamControl extends StreamController {
  /** Stops the KV watches. */
  stop(): void;
}

export interface ClusterStreamControlOptions {
  /** Feeds in the cluster beyond which an add is refused (serve's --max-streams). */
  maxStreams: number;
  /** A feed appeared or vanished in KV, whoever added or removed it. */
  onChange?: (change: { type: 'added' | 'removed'; id: string }) => void;
  logger?: Logger;
}

interface Cached<T> {
  revision: number;
  value?: T;
  /** When the entry was written: a lease is dead once older than the bucket's TTL. */
  createdMs: number;
}

/**
 * Stream control of `serve --nats`: adding a stream defines a cluster feed (KV vitstream-feeds, as
 * `vitstream feeds add` does), removing one deletes it. list/get are synchronous, so they read a view
 * of the feeds and leases kept up to date by KV watches (loaded before this resolves).
 */
export async function createClusterStreamControl(
  nc: NatsConnection,
  o: ClusterStreamControlOptions,
): Promise<ClusterStreamControl> {
  const logger = o.logger ?? silentLogger;
  const { feeds, leases } = await openBuckets(nc);
  const leaseTtlMs = (await leases.status()).ttl;
  const feedView = new Map<string, Cached<FeedDefinition>>();
  const leaseView = new Map<string, Cached<FeedLease>>();
  // Ids whose add is between its checks and its KV create: counted against the limit, taken for others.
  const adding = new Set<string>();

  const apply = <T>(view: Map<string, Cached<T>>, e: KvEntry, read: () => T): boolean => {
    const held = view.get(e.key);
    // The watch and the first load overlap: whichever saw the later revision wins.
    if (held && held.revision >= e.revision) return false;
    let value: T | undefined;
    if (e.operation === 'PUT') {
      try {
        value = read();
      } catch (err) {
        logger.warn({ key: e.key, err: (err as Error).message }, 'cluster entry ignored');
      }
    }
    view.set(e.key, { revision: e.revision, value, createdMs: e.created.getTime() });
    return (held?.value !== undefined) !== (value !== undefined);
  };
  const applyFeed = (e: KvEntry) => {
    if (apply(feedView, e, () => decode(FeedDefinition, e.value, `feed ${e.key}`)))
      o.onChange?.({ type: feedView.get(e.key)?.value ? 'added' : 'removed', id: e.key });
  };
  const applyLease = (e: KvEntry) => apply(leaseView, e, () => decode(FeedLease, e.value, `lease ${e.key}`));
  let loaded = false;
  // Once the first load is done, the watch (in revision order) brings nothing older for a key it has
  // passed: a removed feed's tombstone and lease can go, so ids added and removed do not pile up.
  const watchFeed = (e: KvEntry) => {
    applyFeed(e);
    const held = feedView.get(e.key);
    if (loaded && !held?.value && held!.revision <= e.revision) {
      feedView.delete(e.key);
      leaseView.delete(e.key);
    }
  };
  const watchLease = (e: KvEntry) => {
    applyLease(e);
    if (loaded && !leaseView.get(e.key)?.value) leaseView.delete(e.key);
  };

  // Watches first, then the stored entries: nothing written in between is missed.
  const watchers = await Promise.all([follow(feeds, watchFeed), follow(leases, watchLease)]);
  await load(feeds, applyFeed);
  await load(leases, applyLease);
  loaded = true;

  const refresh = async (id: string) => {
    const e = await feeds.get(id);
    if (e) applyFeed(e);
  };
  const liveFeeds = () => [...feedView.values()].flatMap((c) => (c.value ? [c.value] : []));
  const show = (def: FeedDefinition): StreamInfo => {
    const lease = leaseView.get(def.id);
    const owner =
      lease?.value && (leaseTtlMs <= 0 || Date.now() - lease.createdMs < leaseTtlMs)
        ? lease.value
        : undefined;
    const kind = detectKind(def.url);
    return {
      id: def.id,
      input: redactCredentials(def.url),
      kind,
      live: kind !== 'file',
      ...(def.loop && { loop: true }),
      ...(def.sample && { sample: def.sample }),
      ...(owner && { worker: owner.worker, gpu: owner.gpu }),
    };
  };
  const full = () => liveFeeds().length + adding.size >= o.maxStreams;
  const limitError = () =>
    new StreamLimitError(`this server adds at most ${o.maxStreams} cluster feeds: remove one first`, {
      input: 'streams',
    });

  return {
    stop: () => {
      for (const w of watchers) w.stop();
    },
    list: () => liveFeeds().map(show),
    get: (id) => {
      const def = feedView.get(id)?.value;
      return def && show(def);
    },
    add: async (request) => {
      if (full()) throw limitError();
      const spec = parseClusterRequest(request);
      const url = spec.url!;
      await networkUrlsOnly({ url });
      const id = checkedId(spec.id ?? feedIdOf(url));
      if (adding.has(id) || feedView.get(id)?.value) throw conflict(id);
      if (full()) throw limitError();
      adding.add(id);
      try {
        // The view may lag behind KV, and another server may add the same id: the write is a KV create,
        // which only one of them wins (`feeds add` puts, replacing a feed).
        const sample = spec.every ? { every: spec.every } : spec.fps ? { fps: spec.fps } : undefined;
        let def: FeedDefinition;
        try {
          def = await addFeed(nc, { id, url, sample, loop: spec.loop }, { onlyNew: true });
        } catch (e) {
          if (e instanceof FeedExistsError) throw conflict(id);
          // addFeed's own checks (the source, with `feeds add`'s rules): the id was checked above.
          if (e instanceof ClusterError)
            throw new SourceRefusedError(redactCredentials(shorten(e.message, 300)), { input: 'url' });
          throw e;
        }
        // Into the view now, not when the watch gets to it: the next add counts it against the limit.
        await refresh(id);
        logger.info({ stream: id, input: redactCredentials(url) }, 'cluster feed added');
        return show(def);
      } finally {
        adding.delete(id);
      }
    },
    remove: async (id) => {
      checkedId(id);
      try {
        await removeFeed(nc, id);
      } catch (e) {
        // With the id checked, removeFeed's only own error is a feed that is not there.
        if (e instanceof ClusterError)
          throw new StreamNotFoundError(`no cluster feed with id "${id}"`, { input: id });
        throw e;
      }
      await refresh(id);
      logger.info({ stream: id }, 'cluster feed removed');
    },
  };
}

/** A feed id as a subject token and KV key (checkToken), or a 400 naming `id`. */
function checkedId(id: string): string {
  try {
    checkToken(id, 'id');
  } catch (e) {
    throw new StreamRequestError((e as Error).message, { input: 'id' });
  }
  return id;
}

const conflict = (id: string) =>
  new StreamConflictError(`a cluster feed with id "${id}" already exists`, { input: id });

/** The API's request shape (POST /streams, add-stream), narrowed to what a cluster feed can hold. */
function parseClusterRequest(request: unknown): ReturnType<typeof parseStreamRequest> {
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    throw new StreamRequestError('expected a JSON object such as {"id": "cam1", "url": "rtsp://..."}', {
      input: 'stream',
    });
  let spec: ReturnType<typeof parseStreamRequest>;
  try {
    spec = parseStreamRequest(request);
  } catch (e) {
    if (e instanceof ConfigError)
      throw new StreamRequestError(redactCredentials(shorten(e.message, 300)), { input: 'stream' });
    throw e;
  }
  const unsupported = NOT_FOR_CLUSTER_FEEDS.filter((k) => spec[k] !== undefined);
  if (unsupported.length > 0)
    throw new StreamRequestError(
      `${unsupported.join(', ')}: not available for cluster feeds (the fields are id, url, every or fps, loop)`,
      { input: unsupported[0] },
    );
  // Files are named on the worker that runs the feed; over the API, as on a local server without
  // --media-root, only network URLs are taken.
  if (spec.path !== undefined)
    throw new SourceRefusedError(
      'path: local files are not accepted over the API in cluster mode (add them with `vitstream feeds add`)',
      { input: 'path' },
    );
  return spec;
}

/** A feed id made from a URL when the request gives none: its host and path in token characters. */
function feedIdOf(url: string): string {
  return shortStreamId(url)
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(-64);
}

/** Calls `apply` for every change to the bucket from now on. */
async function follow(kv: KV, apply: (e: KvEntry) => void): Promise<{ stop(): void }> {
  const it = await kv.watch({ include: 'updates' });
  void (async () => {
    for await (const e of it) apply(e);
  })().catch(() => {
    // The connection closed: the view stays as last seen.
  });
  return { stop: () => it.stop() };
}

/** Calls `apply` for the entry stored under every key now. */
async function load(kv: KV, apply: (e: KvEntry) => void): Promise<void> {
  for await (const key of await kv.keys()) {
    const e = await kv.get(key);
    if (e) apply(e);
  }
}
