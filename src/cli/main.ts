#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { OutputClosedError, VitstreamError } from '../errors.js';
import { LOG_LEVELS } from '../util/logger.js';
import { packageVersion } from '../util/paths.js';
import { registerBench } from './commands/bench.js';
import { registerCalibrate } from './commands/calibrate.js';
import { registerClassify } from './commands/classify.js';
import { registerFeeds } from './commands/feeds.js';
import { registerInfer } from './commands/infer.js';
import { registerInfo } from './commands/info.js';
import { registerResults } from './commands/results.js';
import { registerServe } from './commands/serve.js';
import { registerSubmit } from './commands/submit.js';
import { registerTune } from './commands/tune.js';
import { registerWorker } from './commands/worker.js';

/** `vitstream <command>`: each command lives in its own module under commands/. */
export function buildProgram(): Command {
  const program = new Command('vitstream')
    .description('Streaming video classification with Vision Transformers on WebGPU')
    .version(packageVersion())
    .showHelpAfterError()
    .addOption(
      new Option('--log-level <level>', 'log level on stderr (default: warn; info for serve)').choices(
        LOG_LEVELS,
      ),
    );
  registerInfo(program);
  registerInfer(program);
  registerClassify(program);
  registerServe(program);
  registerBench(program);
  registerTune(program);
  registerCalibrate(program);
  registerWorker(program);
  registerSubmit(program);
  registerResults(program);
  registerFeeds(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  // Dawn's "maxDynamic… artificially reduced" lines, printed on every engine command, are filtered out
  // of this process's stderr (src/engine/native-stderr.ts); VITSTREAM_QUIET_DAWN=0 shows them.
  process.env.VITSTREAM_QUIET_DAWN ??= '1';
  const program = buildProgram().exitOverride();
  // exitOverride is not inherited by commands registered before it: without this, their usage errors exit 1 directly.
  for (const cmd of program.commands) cmd.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    // Usage errors (unknown option, missing argument) exit 2 like other bad input; 1 means files failed.
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    // `vitstream classify clip.mp4 | head`: the work was stopped; exit as a tool killed by SIGPIPE would (128 + 13).
    if (e instanceof OutputClosedError) process.exit(141);
    // Expected failures (bad input, missing GPU, ...) are one clear line; anything else is a bug.
    if (e instanceof VitstreamError) {
      process.stderr.write(`vitstream: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

await main(process.argv);
