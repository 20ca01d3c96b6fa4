import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { OutputClosedError } from '../errors.js';
import type { Prediction } from '../predictions.js';
import { cannotWrite, openReplacingOutput } from '../util/output-file.js';

export type FileFormat = 'jsonl' | 'csv';

export interface PredictionFileSink {
  write(p: Prediction): Promise<void>;
  /** Ends a run that worked; a file sink then replaces its file. */
  close(): Promise<void>;
  /**
   * Ends a run that failed. A file sink keeps the whole lines written so far in place of its file,
   * or, when there are none, leaves the old file as it was.
   */
  abort(): Promise<void>;
}

const CSV_HEADER = 'stream_id,frame,pts_ms,received_at,latency_ms,rank,class_index,label,score,file\n';
const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/**
 * One prediction per line (JSONL), or one row per (frame, rank) (CSV); honours backpressure. The
 * lines go to a temporary file beside `file`, which replaces it when the sink closes: an existing file
 * is untouched until then, and after a failed write (a full disk) keeps whole lines only.
 */
export function openPredictionFile(
  file: string,
  format: FileFormat = file.endsWith('.csv') ? 'csv' : 'jsonl',
): PredictionFileSink {
  // Opened synchronously so that an unwritable path fails here, before any work is done.
  const output = openReplacingOutput(file, 'predictions');
  const lines = openPredictionStream(output.stream, format, file, true);
  const keepWholeLines = () =>
    output.commit({ wholeLines: true, unlessAtMost: format === 'csv' ? CSV_HEADER.length : 0 });
  let closed = false;
  return {
    write: (p) => lines.write(p),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await lines.close();
      } catch (e) {
        await keepWholeLines();
        throw e;
      }
      await output.commit();
    },
    async abort() {
      if (closed) return;
      closed = true;
      await keepWholeLines();
    },
  };
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
  // The pixels a prediction may carry (for thumbnails, reports) never go into the file.
  const render = ({ image: _pixels, ...p }: Prediction) =>
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
    async abort() {
      if (end && !out.writableEnded) out.end();
    },
  };
}
