import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ClusterError } from '../errors.js';

/**
 * The layout of vitstream on NATS, in one place. Subjects:
 *   vitstream.work.<model>.<job>          one message per file (stream VITSTREAM_WORK, work queue)
 *   vitstream.pred.<job>.<file>           one message per frame (stream VITSTREAM_PRED)
 *   vitstream.pred.<job>.<file>.done      the file's end marker, after its last prediction
 *   vitstream.dead.<job>                  files given up, with the reason (stream VITSTREAM_DEAD)
 *   vitstream.live.<feed>                 live predictions (plain NATS, not stored)
 * KV buckets: vitstream-jobs (job manifests), vitstream-workers (heartbeats, TTL),
 * vitstream-feeds (camera definitions), vitstream-leases (feed ownership, TTL).
 */
export const STREAMS = { work: 'VITSTREAM_WORK', pred: 'VITSTREAM_PRED', dead: 'VITSTREAM_DEAD' } as const;
export const BUCKETS = {
  jobs: 'vitstream-jobs',
  workers: 'vitstream-workers',
  feeds: 'vitstream-feeds',
  leases: 'vitstream-leases',
} as const;

export const workSubject = (model: string, job: string) => `vitstream.work.${model}.${job}`;
export const workFilter = (model: string) => `vitstream.work.${model}.>`;
export const predSubject = (job: string, file: string) => `vitstream.pred.${job}.${file}`;
export const doneSubject = (job: string, file: string) => `vitstream.pred.${job}.${file}.done`;
export const jobPredFilter = (job: string) => `vitstream.pred.${job}.>`;
export const deadSubject = (job: string) => `vitstream.dead.${job}`;
export const liveSubject = (feed: string) => `vitstream.live.${feed}`;
/** Per-frame message id: a redelivered file republishes the same ids, which the stream drops as duplicates. */
export const frameMsgId = (job: string, file: string, frame: number) => `${job}/${file}/${frame}`;

/** Letters, digits, '-' and '_': safe as a subject token, a KV key and a consumer name. */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** Checks a hostile id (feed, job, worker) before it becomes a subject token or key. */
export function checkToken(value: string, what: string): string {
  if (!TOKEN.test(value))
    throw new ClusterError(
      `${what}: expected 1-64 letters, digits, '-' or '_', got ${JSON.stringify(value.slice(0, 80))}`,
      { input: what },
    );
  return value;
}

/**
 * The token under which a model's work is queued: workers of one model share one consumer. A preset
 * name is itself; a folder or config path is its base name (minus .json), so that workers on other
 * machines, where the path differs, still match.
 */
export function modelKey(model: string): string {
  const base = path.basename(model.replace(/[/\\]+$/, '')).replace(/\.json$/i, '');
  const key = base.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  if (!key)
    throw new ClusterError(`--model: cannot make a queue name from ${JSON.stringify(model)}`, {
      input: '--model',
    });
  return key;
}

/** Time-ordered and unique enough for ids made on several machines: base36 ms + 8 random hex. */
export function newId(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

/** A job's file keys are their positions, zero-padded so that they sort as the files were given. */
export const fileKey = (index: number) => `f${String(index).padStart(5, '0')}`;
