import { z } from 'zod';
import { ClusterError } from '../errors.js';
import { detectKind } from '../video/source.js';

/** What is sent over NATS, as schemas: every message read back is checked, since anyone on the bus can publish. */
const sample = z.union([
  z.object({ every: z.number().int().positive() }),
  z.object({ fps: z.number().positive() }),
]);
const token = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

/** One file of a job, as queued for workers. */
export const WorkItem = z.object({
  job: token,
  key: token,
  /**
   * The path the worker opens (absolute, on storage the workers share). Only a plain file: never a
   * URL, device or ffmpeg protocol, whoever wrote the message.
   */
  path: z
    .string()
    .min(2)
    .max(4096)
    .refine(
      (p) => p.startsWith('/') && !p.includes('\0') && detectKind(p) === 'file',
      'expected an absolute file path',
    ),
  /** The file as the user named it: the predictions' streamId. */
  name: z.string().min(1).max(4096),
  sample: sample.optional(),
  topK: z.number().int().positive().max(1000),
  resize: z.enum(['squash', 'center-crop', 'letterbox']),
});
export type WorkItem = z.infer<typeof WorkItem>;

/** The job manifest kept in KV: what `results` waits for. */
export const JobManifest = z.object({
  id: token,
  model: z.string(),
  submittedAt: z.string(),
  files: z.array(z.object({ key: token, name: z.string() })),
});
export type JobManifest = z.infer<typeof JobManifest>;

/** A file's end marker: published after its last prediction is stored, before the work is acked. */
export const FileDone = z.object({
  job: token,
  key: token,
  name: z.string(),
  frames: z.number().int().nonnegative(),
  worker: z.string(),
  /** Set when the file was given up (dead-lettered): its predictions, if any, are partial. */
  failed: z.string().optional(),
});
export type FileDone = z.infer<typeof FileDone>;

export const DeadLetter = z.object({
  job: token,
  key: token,
  name: z.string(),
  path: z.string(),
  reason: z.string(),
  deliveries: z.number().int(),
  worker: z.string(),
  at: z.string(),
});
export type DeadLetter = z.infer<typeof DeadLetter>;

/** A worker's heartbeat record (KV, expires when the worker stops renewing it). */
export const WorkerRecord = z.object({
  id: token,
  host: z.string(),
  pid: z.number().int(),
  gpu: z.string(),
  adapter: z.string(),
  model: z.string(),
  precision: z.string(),
  capacity: z.object({ files: z.number().int(), feeds: z.number().int() }),
  busy: z.array(z.object({ job: z.string(), key: z.string(), name: z.string() })),
  feeds: z.array(z.string()),
  startedAt: z.string(),
  at: z.string(),
});
export type WorkerRecord = z.infer<typeof WorkerRecord>;

/** A camera definition (KV vitstream-feeds). */
export const FeedDefinition = z.object({
  id: token,
  url: z.string().min(1).max(4096),
  sample: sample.optional(),
  /** Play a file source at its own rate, looping: a stand-in camera for demos and tests. */
  loop: z.boolean().optional(),
  addedAt: z.string(),
});
export type FeedDefinition = z.infer<typeof FeedDefinition>;

/** Who owns a feed (KV vitstream-leases, TTL): renewed by the owner's heartbeat. */
export const FeedLease = z.object({
  feed: token,
  worker: token,
  host: z.string(),
  gpu: z.string(),
  since: z.string(),
});
export type FeedLease = z.infer<typeof FeedLease>;

const decoder = new TextDecoder();
export const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** Parses a message body against its schema; `where` names the subject or key in the error. */
export function decode<T>(schema: z.ZodType<T>, data: Uint8Array, where: string): T {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(data));
  } catch {
    throw new ClusterError(`${where}: not JSON`, { input: where });
  }
  const r = schema.safeParse(json);
  if (!r.success)
    throw new ClusterError(
      `${where}: ${r.error.issues[0]?.path.join('.') || 'message'}: ${r.error.issues[0]?.message}`,
      { input: where },
    );
  return r.data;
}

/** A stored prediction, as results reads it back (the Prediction of src/predictions.ts). */
export const StoredPrediction = z.object({
  streamId: z.string(),
  frame: z.number().int().nonnegative(),
  ptsMs: z.number(),
  receivedAtMs: z.number(),
  latencyMs: z.number(),
  file: z.string().optional(),
  top: z.array(z.object({ index: z.number().int(), label: z.string(), score: z.number() })),
});
