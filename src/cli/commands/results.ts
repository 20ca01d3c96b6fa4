import type { Command } from 'commander';
import { closeNats, connectNats } from '../../cluster/connect.js';
import { collectResults, type JobProgress } from '../../cluster/results.js';
import { InputError } from '../../errors.js';
import { type FileFormat, openPredictionFile, openPredictionStream } from '../../sinks/file.js';
import { addNatsOptions, type NatsFlags, natsOptions } from '../nats-options.js';

interface ResultsFlags extends NatsFlags {
  out?: string;
  format?: string;
  follow?: boolean;
}

const line = (p: JobProgress) =>
  `${p.done}/${p.files} files done${p.failed.length ? `, ${p.failed.length} failed` : ''}, ${p.frames} frames, ${p.workersBusy} worker${p.workersBusy === 1 ? '' : 's'} busy`;

export function registerResults(program: Command): void {
  const cmd = program
    .command('results')
    .description(
      "a job's predictions, frame by frame per file (files as they finish), in classify's JSONL or CSV",
    )
    .argument('<job>', 'the job id printed by submit')
    .option('--out <file>', 'write predictions here (.jsonl or .csv); default: JSONL on stdout')
    .option('--format <fmt>', 'jsonl or csv (default: from --out, else jsonl)')
    .option('--follow', 'wait until every file is done or given up (default: what is stored now)');
  addNatsOptions(cmd).action(async (job: string, f: ResultsFlags) => {
    const format = (f.format ?? (f.out?.endsWith('.csv') ? 'csv' : 'jsonl')) as FileFormat;
    if (format !== 'jsonl' && format !== 'csv')
      throw new InputError(`--format: expected jsonl or csv, got "${f.format}"`, { input: '--format' });
    const sink = f.out
      ? openPredictionFile(f.out, format)
      : openPredictionStream(process.stdout, format, 'stdout');
    const nc = await connectNats(natsOptions(f, 'vitstream results'));
    let last = '';
    let final: JobProgress;
    try {
      final = await collectResults(nc, job, {
        follow: f.follow,
        onFile: async (_name, predictions) => {
          for (const p of predictions) await sink.write(p);
        },
        onProgress: (p) => {
          const l = line(p);
          if (l !== last) process.stderr.write(`${job}: ${l}\n`);
          last = l;
        },
      });
      await sink.close();
    } finally {
      await closeNats(nc);
    }
    for (const x of final.failed) process.stderr.write(`vitstream: ${x.name}: given up: ${x.reason}\n`);
    const pending = final.files - final.done - final.failed.length;
    if (pending > 0)
      process.stderr.write(
        `${job}: ${pending} file${pending === 1 ? '' : 's'} not finished yet (--follow waits for them)\n`,
      );
    if (final.failed.length > 0) process.exitCode = 1;
  });
}
