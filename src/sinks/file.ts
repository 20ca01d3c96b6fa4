import { once } from 'node:events';
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { OutputClosedError } from '../errors.js';
import type { Prediction } from '../predictions.js';
import { cannotWrite } from '../util/output-file.js';

export type FileFormat = 'jsonl' | 'csv';

export interface PredictionFileSink {
  write(p: Prediction): Promise<void>;
  close(): Promise<void>;
}

const CSV_HEADER = 'stream_id,frame,pts_ms,received_at,latency_ms,rank,class_index,label,score,file\n';
const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** One prediction per line (JSONL), or one row per (frame, rank) (CSV); honours backpressure. */
export function openPredictionFile(
  file: string,
  format: FileFormat = file.endsWith('.csv') ? 'csv' : 'jsonl',
): PredictionFileSink {
  let out: WriteStream;
  try {
    // Opened synchronously so that an unwritable path fails here, before any work is done, and
    // not later as a stream 'error' event.
    out = createWriteStream('', { fd: openSync(file, 'w') });
  } catch (e) {
    throw cannotWrite(file, 'predictions', e);
  }
  return openPredictionStream(out, format, file, true);
}

/** The same over any writable (stdout); `end` says whether close() ends the stream. */
export function openPredictionStream(
  out: Writable,
  format: FileFormat,
  name = 'output',
  end = false,
): PredictionFileSink {
  const file = name;
  let failure: Error | undefined;
  const failed = (e: Error): Error =>
    (e as NodeJS.ErrnoException).code === 'EPIPE'
      ? new OutputClosedError(`${file} was closed by its reader`, { input: file, cause: e })
      : cannotWrite(file, 'predictions', e);
  out.on('error', (e) => {
    failure ??= failed(e);
  });
  if (format === 'csv') out.write(CSV_HEADER);
  const render = (p: Prediction) =>
    format === 'jsonl'
      ? `${JSON.stringify({ ...p, receivedAt: new Date(p.receivedAtMs).toISOString() })}\n`
      : `${p.top
          .map((t, r) =>
            [
              csvField(p.streamId),
              p.frame,
              p.ptsMs.toFixed(3),
              new Date(p.receivedAtMs).toISOString(),
              p.latencyMs.toFixed(1),
              r + 1,
              t.index,
              csvField(t.label),
              t.score.toFixed(6),
              csvField(p.file ?? ''),
            ].join(','),
          )
          .join('\n')}\n`;
  return {
    async write(p) {
      if (failure) throw failure;
      if (!out.write(render(p)))
        await once(out, 'drain').catch((e: Error) => {
          throw failure ?? failed(e);
        });
    },
    async close() {
      if (failure) throw failure;
      if (end)
        await new Promise<void>((resolve, reject) =>
          out.end((e?: Error | null) => (e ? reject(e) : resolve())),
        );
      if (failure) throw failure;
    },
  };
}
