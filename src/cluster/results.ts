import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ClusterError } from '../errors.js';
import type { Prediction } from '../predictions.js';
import { ensureStreams, openBuckets } from './layout.js';
import { decode, FileDone, JobManifest, StoredPrediction, WorkerRecord } from './messages.js';
import { checkToken, jobPredFilter, STREAMS } from './subjects.js';

export interface JobProgress {
  files: number;
  done: number;
  failed: { name: string; reason: string }[];
  /** Distinct frames received so far, all files. */
  frames: number;
  /** Workers whose heartbeat says they are on a file of this job. */
  workersBusy: number;
}

export interface CollectOptions {
  /** Wait until every file is done or given up (default: stop at what is stored now). */
  follow?: boolean;
  /** Each finished file, its predictions in frame order, once (files in the order they finish). */
  onFile: (name: string, predictions: Prediction[]) => Promise<void>;
  onProgress?: (p: JobProgress) => void;
  /** Progress period (default 1 s). */
  progressMs?: number;
}

/**
 * Reads a job's predictions back from the stream. Frames are kept per file until the file's end
 * marker has come and every frame it counts is there (a redelivered file's frames repeat only if
 * published outside the duplicate window: they are dropped here too), then handed out sorted and
 * forgotten, so memory holds only files in progress.
 */
export async function collectResults(
  nc: NatsConnection,
  job: string,
  o: CollectOptions,
): Promise<JobProgress> {
  checkToken(job, 'JOB');
  const jsm = await ensureStreams(nc);
  const { jobs, workers } = await openBuckets(nc);
  const entry = await jobs.get(job);
  if (entry?.operation !== 'PUT')
    throw new ClusterError(`job ${job}: no such job on this NATS server`, { input: job });
  const manifest = decode(JobManifest, entry.value, `job ${job}`);
  const names = new Map(manifest.files.map((f) => [f.key, f.name]));
  const frames = new Map<string, Map<number, Prediction>>();
  const markers = new Map<string, FileDone>();
  const finished = new Set<string>();
  const progress: JobProgress = {
    files: manifest.files.length,
    done: 0,
    failed: [],
    frames: 0,
    workersBusy: 0,
  };

  // Without --follow, read exactly what is stored now: the count per subject, before reading.
  const info = await jsm.streams.info(STREAMS.pred, { subjects_filter: jobPredFilter(job) });
  let stored = Object.values(info.state.subjects ?? {}).reduce((a, n) => a + n, 0);

  const countBusy = async () => {
    let n = 0;
    for await (const key of await workers.keys()) {
      const e = await workers.get(key).catch(() => null);
      if (e?.operation !== 'PUT') continue;
      try {
        if (decode(WorkerRecord, e.value, key).busy.some((b) => b.job === job)) n++;
      } catch {
        // a malformed record is not a worker
      }
    }
    return n;
  };
  const report = async () => {
    progress.workersBusy = await countBusy().catch(() => 0);
    o.onProgress?.({ ...progress, failed: [...progress.failed] });
  };

  const settle = async (key: string) => {
    const marker = markers.get(key);
    const got = frames.get(key);
    if (!marker || finished.has(key)) return;
    if (marker.failed) {
      finished.add(key);
      frames.delete(key);
      progress.failed.push({ name: names.get(key) ?? marker.name, reason: marker.failed });
      return;
    }
    if ((got?.size ?? 0) < marker.frames) return;
    finished.add(key);
    frames.delete(key);
    progress.done++;
    await o.onFile(
      names.get(key) ?? marker.name,
      [...(got?.values() ?? [])].sort((a, b) => a.frame - b.frame),
    );
  };

  const allDone = () => finished.size >= manifest.files.length;
  if (allDone() || (!o.follow && stored === 0)) {
    await report();
    return progress;
  }
  const js = jetstream(nc);
  const consumer = await js.consumers.get(STREAMS.pred, { filter_subjects: jobPredFilter(job) });
  const messages = await consumer.consume({ max_messages: 512 });
  const timer = setInterval(() => void report(), o.progressMs ?? 1000);
  try {
    for await (const m of messages) {
      stored--;
      const parts = m.subject.split('.');
      const key = parts[3] ?? '';
      if (names.has(key) && !finished.has(key)) {
        try {
          if (parts.length === 5 && parts[4] === 'done') {
            markers.set(key, decode(FileDone, m.data, m.subject));
          } else if (parts.length === 4) {
            const p = decode(StoredPrediction, m.data, m.subject) as Prediction;
            const f = frames.get(key) ?? new Map<number, Prediction>();
            frames.set(key, f);
            if (!f.has(p.frame)) {
              f.set(p.frame, p);
              progress.frames++;
            }
          }
          await settle(key);
        } catch (e) {
          if (!(e instanceof ClusterError)) throw e;
          // Someone published garbage on our subjects: skip it, the real frames are there too.
        }
      }
      if (allDone() || (!o.follow && stored <= 0)) break;
    }
  } finally {
    clearInterval(timer);
    messages.stop();
  }
  await report();
  return progress;
}
