import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ClusterError } from '../errors.js';
import type { SampleOptions } from '../operators/sampleFrames.js';
import type { ResizeMode } from '../video/args.js';
import { ensureStreams, openBuckets } from './layout.js';
import { encode, type JobManifest, type WorkItem } from './messages.js';
import { fileKey, modelKey, newId, workSubject } from './subjects.js';

export interface SubmitOptions {
  model: string;
  sample?: SampleOptions;
  topK?: number;
  resize?: ResizeMode;
}

/**
 * Queues one work message per file and records the job's manifest; returns the job id. Files are
 * checked here (a typo fails now, not on a worker), and sent as absolute paths: workers are expected
 * to see the same storage at the same path.
 */
export async function submitJob(nc: NatsConnection, files: string[], o: SubmitOptions): Promise<JobManifest> {
  if (files.length === 0) throw new ClusterError('submit: no files given', { input: 'FILES' });
  for (const f of files) {
    try {
      accessSync(f, constants.R_OK);
      if (!statSync(f).isFile()) throw new Error('not a regular file');
    } catch (e) {
      throw new ClusterError(`${f}: not a readable file (${(e as Error).message.split('\n')[0]})`, {
        input: f,
      });
    }
  }
  await ensureStreams(nc);
  const { jobs } = await openBuckets(nc);
  const js = jetstream(nc);
  const model = modelKey(o.model);
  const job = newId('j');
  const manifest: JobManifest = {
    id: job,
    model: o.model,
    submittedAt: new Date().toISOString(),
    files: files.map((name, i) => ({ key: fileKey(i), name })),
  };
  // The manifest first: results can follow a job whose work is already being done.
  await jobs.put(job, encode(manifest));
  for (const [i, name] of files.entries()) {
    const item: WorkItem = {
      job,
      key: fileKey(i),
      path: path.resolve(name),
      name,
      sample: o.sample,
      topK: o.topK ?? 5,
      resize: o.resize ?? 'squash',
    };
    await js.publish(workSubject(model, job), encode(item), { msgID: `${job}/${item.key}` });
  }
  return manifest;
}
