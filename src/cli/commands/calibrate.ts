import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { calibrate } from '../../engine/int8/calibrate.js';
import { loadCalibrationFrames } from '../../engine/int8/inputs.js';
import { type CalibrationMethod, defaultScalesPath } from '../../engine/int8/scales.js';
import { resolveModel } from '../../engine/presets.js';
import { loadWeights } from '../../engine/weights/index.js';
import { InputError } from '../../errors.js';
import { parsePositiveInt } from '../options.js';

const METHODS: CalibrationMethod[] = ['max', 'percentile', 'mse'];

/** `vitstream calibrate`: INT8 post-training calibration; writes scales.json beside the weights (or --out). */
export function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .description(
      'INT8 post-training calibration: activation ranges from an FP32 pass over your images or video frames',
    )
    .requiredOption('--model <preset|config.json>', 'model')
    .requiredOption('--weights <file>', 'weights (.npz or .safetensors)')
    .requiredOption(
      '--images <paths...>',
      'folders, video or image files, or .npy uint8 RGB [N,S,S,3] at the model size',
    )
    .option('--frames <n>', 'frames to use in all (shared evenly among the inputs)', '128')
    .option('--method <method>', 'max, percentile or mse', 'percentile')
    .option('--percentile <p>', 'percentile of |x| for --method percentile', '99.99')
    .option('--out <file>', 'where to write the scales (default: scales.json beside the weights)')
    .action(
      async (o: {
        model: string;
        weights: string;
        images: string[];
        frames: string;
        method: string;
        percentile: string;
        out?: string;
      }) => {
        if (!METHODS.includes(o.method as CalibrationMethod))
          throw new InputError(`--method: expected ${METHODS.join(', ')}, got "${o.method}"`, {
            input: '--method',
          });
        const percentile = Number(o.percentile);
        if (!(percentile > 0 && percentile <= 100))
          throw new InputError(`--percentile: expected a number in (0, 100], got "${o.percentile}"`, {
            input: '--percentile',
          });
        const config = resolveModel(o.model);
        const weights = await loadWeights(o.weights, config);
        const frames = await loadCalibrationFrames(config, o.images, parsePositiveInt(o.frames, '--frames'));
        process.stderr.write(
          `calibrating ${config.name} on ${frames.count} frames from ${frames.perSource.length} input(s), method ${o.method}\n`,
        );
        const t0 = performance.now();
        const scales = await calibrate({
          config,
          weights,
          frames: frames.data,
          count: frames.count,
          method: o.method as CalibrationMethod,
          percentile,
          onProgress: (done, total) => process.stderr.write(`\r  ${done}/${total} frames`),
        });
        process.stderr.write(`\n  done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
        const out = o.out ?? defaultScalesPath(o.weights);
        writeFileSync(out, `${JSON.stringify(scales)}\n`);
        process.stdout.write(`${out}\n`);
      },
    );
}
