import path from 'node:path';
import type { Command } from 'commander';
import { loadCalibrationFrames } from '../../app/calibration-frames.js';
import { type GpuContext, isCpuAdapter, openGpu } from '../../engine/gpu.js';
import { calibrate, calibrateOnGpu } from '../../engine/int8/calibrate.js';
import { type CalibrationMethod, defaultScalesPath } from '../../engine/int8/scales.js';
import { loadWeights } from '../../engine/weights/index.js';
import { GpuUnavailableError, InputError } from '../../errors.js';
import { weightsBesideModel } from '../../models/model-folder.js';
import { resolveModel } from '../../models/presets.js';
import { checkWritable, writeOutputFile } from '../../util/output-file.js';
import { parseChoice, parsePositiveInt } from '../options.js';

const METHODS: CalibrationMethod[] = ['max', 'percentile', 'mse'];

/** `vitstream calibrate`: INT8 post-training calibration; writes scales.json beside the weights (or --out). */
export function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .description(
      'INT8 post-training calibration: activation ranges from an FP32 pass over your images or video frames',
    )
    .requiredOption('--model <preset|config.json|folder>', 'model')
    .option(
      '--weights <file>',
      "weights (.npz or .safetensors); default: the file beside --model's config.json",
    )
    .requiredOption(
      '--images <paths...>',
      'folders, video or image files, or .npy uint8 RGB [N,S,S,3] at the model size',
    )
    .option('--frames <n>', 'frames to use in all (shared evenly among the inputs)', '128')
    .option('--method <method>', 'max, percentile or mse', 'percentile')
    .option('--percentile <p>', 'percentile of |x| for --method percentile', '99.99')
    .option('--out <file>', 'where to write the scales (default: scales.json beside the weights)')
    .option(
      '--backend <b>',
      'auto (the FP32 WebGPU engine on a GPU, else the CPU reference), webgpu, or cpu (~40 s per 384x384 image on 2 cores)',
      'auto',
    )
    .action(
      async (o: {
        model: string;
        weights?: string;
        images: string[];
        frames: string;
        method: string;
        percentile: string;
        out?: string;
        backend: string;
      }) => {
        const backend = parseChoice(o.backend, '--backend', BACKENDS);
        const method = parseChoice(o.method, '--method', METHODS);
        const percentile = Number(o.percentile);
        if (!(percentile > 0 && percentile <= 100))
          throw new InputError(`--percentile: expected a number in (0, 100], got "${o.percentile}"`, {
            input: '--percentile',
          });
        const config = resolveModel(o.model);
        const weightsFile = o.weights ?? weightsBesideModel(o.model);
        if (!weightsFile)
          throw new InputError(
            `--weights: required, since '${o.model}' is not a folder holding a .safetensors or .npz file`,
            { input: '--weights' },
          );
        const weights = await loadWeights(weightsFile, config);
        // Before the frames and the calibration pass: an unwritable --out fails first.
        const out = o.out ?? defaultScalesPath(weightsFile);
        try {
          checkWritable(out, 'the scales');
        } catch (e) {
          // The default lands in the model's folder, which may well be read-only (a shared copy).
          if (o.out !== undefined || !(e instanceof InputError)) throw e;
          throw new InputError(`${e.message}; pass --out <file> to write them elsewhere`, {
            input: out,
            cause: e,
          });
        }
        const frames = await loadCalibrationFrames(config, o.images, parsePositiveInt(o.frames, '--frames'));
        const gpu = await calibrationGpu(backend);
        process.stderr.write(
          `calibrating ${config.name} on ${frames.count} frames from ${frames.perSource.length} input(s), method ${method}, FP32 on ${gpu ? gpu.info.description : 'the CPU'}\n`,
        );
        const t0 = performance.now();
        const opts = {
          config,
          weights,
          frames: frames.data,
          count: frames.count,
          method,
          percentile,
          onProgress: (done: number, total: number) => process.stderr.write(`\r  ${done}/${total} frames`),
        };
        const scales = gpu ? await calibrateOnGpu({ ...opts, gpu }) : await calibrate(opts);
        process.stderr.write(`\n  done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
        writeOutputFile(out, 'the scales', `${JSON.stringify(scales)}\n`);
        process.stderr.write(`  scales written to ${path.resolve(out)}\n`);
        process.stdout.write(`${out}\n`);
      },
    );
}

type CalibrationBackend = 'auto' | 'webgpu' | 'cpu';
const BACKENDS: CalibrationBackend[] = ['auto', 'webgpu', 'cpu'];

/**
 * The GPU to calibrate on, or undefined for the CPU reference: asked for, or under `auto` when no
 * adapter opens or the adapter is a software one (lavapipe: 47 s per 384x384 image against the
 * reference's 40 s on 2 cores, so the engine buys nothing there).
 */
async function calibrationGpu(backend: CalibrationBackend): Promise<GpuContext | undefined> {
  if (backend === 'cpu') return undefined;
  let gpu: GpuContext;
  try {
    gpu = await openGpu();
  } catch (e) {
    if (backend === 'webgpu' || !(e instanceof GpuUnavailableError)) throw e;
    process.stderr.write(`no WebGPU adapter (${e.message}); calibrating with the CPU reference\n`);
    return undefined;
  }
  if (backend === 'auto' && isCpuAdapter(gpu.adapter)) {
    gpu.device.destroy();
    return undefined;
  }
  return gpu;
}
