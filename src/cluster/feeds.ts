import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { feedInputProblem } from '../../pipelines/startupFeeds.js';
import { ClusterError } from '../errors.js';
import type { SampleOptions } from '../operators/sampleFrames.js';
import { detectKind } from '../video/source.js';
import { openBuckets } from './layout.js';
import { decode, encode, FeedDefinition, FeedLease } from './messages.js';
import { checkToken } from './subjects.js';

/** Thrown by addFeed with `onlyNew` when the id is already a feed. */
export class FeedExistsError extends ClusterError {}

/**
 * Stores a camera definition; the id is checked first, since it becomes a subject token and a KV key.
 * `onlyNew`: a KV create, which only one writer of an id can win (FeedExistsError for the others);
 * otherwise a put, which replaces a feed of the same id (`feeds add`).
 */
export async function addFeed(
  nc: NatsConnection,
  f: { id: string; url: string; sample?: SampleOptions; loop?: boolean },
  options: { onlyNew?: boolean } = {},
): Promise<FeedDefinition> {
  checkToken(f.id, 'feed id');
  if (!f.url || f.url.length > 4096 || /[\0\n\r]/.test(f.url))
    throw new ClusterError(`feed ${f.id}: the source must be one line of at most 4096 characters`, {
      input: f.id,
    });
  const problem = await feedSourceProblem(f.url);
  if (problem) throw new ClusterError(`feed ${f.id}: ${problem}`, { input: f.id });
  const def: FeedDefinition = {
    id: f.id,
    url: f.url,
    sample: f.sample,
    loop: f.loop || undefined,
    addedAt: new Date().toISOString(),
  };
  const { feeds } = await openBuckets(nc);
  if (!options.onlyNew) await feeds.put(f.id, encode(def));
  else
    await feeds.create(f.id, encode(def)).catch((e: unknown) => {
      // JetStream's answer to a create whose key is taken: the stream's last revision is not the expected 0.
      const taken =
        e instanceof JetStreamApiError &&
        (e.code === JetStreamApiCodes.StreamWrongLastSequence ||
          e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
      if (taken)
        throw new FeedExistsError(`feed ${f.id}: a feed with this id already exists`, {
          input: f.id,
          cause: e,
        });
      throw e;
    });
  return def;
}

export async function removeFeed(nc: NatsConnection, id: string): Promise<void> {
  checkToken(id, 'feed id');
  const { feeds } = await openBuckets(nc);
  const e = await feeds.get(id);
  if (e?.operation !== 'PUT') throw new ClusterError(`feed ${id}: no such feed`, { input: id });
  await feeds.delete(id);
}

/** Every feed with its current lease (none: waiting for a worker with room). */
export async function listFeeds(nc: NatsConnection): Promise<{ def: FeedDefinition; lease?: FeedLease }[]> {
  const { feeds, leases } = await openBuckets(nc);
  const out: { def: FeedDefinition; lease?: FeedLease }[] = [];
  for await (const key of await feeds.keys()) {
    const e = await feeds.get(key);
    if (e?.operation !== 'PUT') continue;
    const def = decode(FeedDefinition, e.value, `feed ${key}`);
    const l = await leases.get(key);
    out.push({
      def,
      lease: l && l.operation === 'PUT' ? decode(FeedLease, l.value, `lease ${key}`) : undefined,
    });
  }
  return out.sort((a, b) => a.def.id.localeCompare(b.def.id));
}

/**
 * Why a feed's source cannot work, with serve's checks (URL schemes ffmpeg is allowed to read, a file
 * that exists here), plus what makes no sense on a worker: stdin and image folders.
 */
export async function feedSourceProblem(url: string): Promise<string | undefined> {
  const kind = detectKind(url);
  if (kind === 'stdin' || kind === 'images')
    return `source "${url}": expected a camera, a stream URL or a video file`;
  return feedInputProblem({ url: kind === 'url' ? url : undefined, path: kind === 'url' ? undefined : url });
}
