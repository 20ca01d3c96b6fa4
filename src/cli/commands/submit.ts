import type { Command } from 'commander';
import { closeNats, connectNats } from '../../cluster/connect.js';
import { submitJob } from '../../cluster/submit.js';
import { RESIZE_MODES } from '../../video/args.js';
import { addNatsOptions, type NatsFlags, natsOptions } from '../nats-options.js';
import { parseChoice, parsePositiveInt } from '../options.js';
import { parseSample } from '../sample-options.js';

interface SubmitFlags extends NatsFlags {
  model: string;
  every?: string;
  fps?: string;
  topK: string;
  resize: string;
}

export function registerSubmit(program: Command): void {
  const cmd = program
    .command('submit')
    .description("queue video files as a job for the cluster's workers; prints the job id")
    .argument('<files...>', 'video files, at the same path on every worker (shared storage)')
    .option(
      '--model <name>',
      'the model the job needs: workers started with this --model take it',
      'vit-b16-224',
    )
    .option('--every <n>', 'classify every n-th frame')
    .option('--fps <f>', 'classify f frames per second of video')
    .option('--top-k <k>', 'classes per prediction', '5')
    .option('--resize <mode>', 'squash, center-crop or letterbox', 'squash');
  addNatsOptions(cmd).action(async (files: string[], f: SubmitFlags) => {
    const sample = parseSample(f);
    const topK = parsePositiveInt(f.topK, '--top-k');
    const resize = parseChoice(f.resize, '--resize', RESIZE_MODES);
    const nc = await connectNats(natsOptions(f, 'vitstream submit'));
    try {
      const job = await submitJob(nc, files, { model: f.model, sample, topK, resize });
      process.stdout.write(`${job.id}\n`);
      process.stderr.write(
        `submitted ${job.files.length} file${job.files.length === 1 ? '' : 's'} as job ${job.id}\n`,
      );
    } finally {
      await closeNats(nc);
    }
  });
}
