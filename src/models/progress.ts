import cliProgress from 'cli-progress';
import type { DownloadProgress } from './download.js';

export interface DownloadProgressReporter {
  /** Pass as `onProgress` to fetchWeights. */
  onProgress(p: DownloadProgress): void;
  /** Ends the bar (or prints the last line). Call in a finally. */
  stop(): void;
}

const MB = 1024 * 1024;
const mb = (n: number) => (n / MB).toFixed(1);

/**
 * Download progress for the CLI: a cli-progress bar on a terminal, and on anything else (CI logs, pipes)
 * one plain line per 10% so that logs stay readable. Writes to stderr: stdout carries results.
 */
export function downloadProgressReporter(
  label: string,
  stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
): DownloadProgressReporter {
  if (stream.isTTY) {
    let bar: cliProgress.SingleBar | undefined;
    return {
      onProgress({ received, total }) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              stream,
              format: `${label} [{bar}] {percentage}% | {got}/{size} MB | ETA {eta_formatted}`,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total ?? received, received, {
            got: mb(received),
            size: total === null ? '?' : mb(total),
          });
        }
        if (total !== null && bar.getTotal() !== total) bar.setTotal(total);
        bar.update(received, { got: mb(received), size: total === null ? '?' : mb(total) });
      },
      stop() {
        bar?.stop();
      },
    };
  }
  let lastDecile = -1;
  let last: DownloadProgress | undefined;
  return {
    onProgress(p) {
      last = p;
      const decile = p.total ? Math.floor((p.received / p.total) * 10) : -1;
      if (decile > lastDecile) {
        lastDecile = decile;
        const of = p.total ? ` of ${mb(p.total)} MB (${decile * 10}%)` : ' MB';
        stream.write(`${label}: ${mb(p.received)}${of}\n`);
      }
    },
    stop() {
      if (last && last.total === null) stream.write(`${label}: ${mb(last.received)} MB\n`);
    },
  };
}
