import type { Command } from 'commander';
import { benchClip, benchDecode, formatTable as formatDecodeTable } from '../../../bench/decode.js';
import { benchParallelDecode, formatParallelDecode } from '../../../bench/decode-parallel.js';
import { benchEngine, formatEngineBench } from '../../../bench/engine.js';
import {
  benchInt8Engine,
  formatInt8Bench,
  type Int8BenchResult,
  setSpeedupVsFp16,
} from '../../../bench/int8.js';
import { openGpu } from '../../engine/gpu.js';
import { readScales } from '../../engine/int8/index.js';
import { randomWeights } from '../../engine/random-weights.js';
import { InputError } from '../../errors.js';
import { resolveModel } from '../../models/presets.js';
import { PIXEL_FORMATS } from '../../video/args.js';
import { resolveFfmpeg } from '../../video/ffmpeg.js';
import { HWACCELS } from '../../video/hwaccel.js';
import {
  parseChoice,
  parseIntList,
  parseNonNegativeInt,
  parsePositiveInt,
  parsePrecisionsWithInt8,
} from '../options.js';

export function registerBench(program: Command): void {
  const bench = program
    .command('bench')
    .description('benchmarks: the engine table (default) or video decoding');
  bench
    .command('engine', { isDefault: true })
    .description(
      "FasterTransformer's ViT table: latency per batch and precision, img/s, speedup vs FP32, TFLOP/s per GEMM, GPU memory",
    )
    .option(
      '--model <preset|config.json>',
      'model (random weights: speed does not depend on their values)',
      'vit-b16-384',
    )
    .option('--precision <list>', 'precisions: fp32, fp16, int8', 'fp32,fp16')
    .option('--int8-mode <list>', 'INT8 modes to time with int8', '1,2')
    .option(
      '--int8-attention <int8|fp16>',
      'attention in INT8 mode 2: on int8 q, k, v (needs scales with their ranges) or FP16',
      'int8',
    )
    .option(
      '--scales <file>',
      'INT8 scales from `vitstream calibrate` (default: calibrated here on 8 random frames, FP32 GPU engine)',
    )
    .option('--batch <list>', 'batch sizes', '1,8,16,32')
    .option('--iterations <n>', 'timed runs per batch size (median reported)', '20')
    .option('--warmup <n>', 'untimed runs first', '3')
    .option(
      '--gemm <choice>',
      'GEMM kernels, FP and INT8: auto, portable, subgroup-matrix, tuned (read the `vitstream tune` cache; INT8 shapes it lacks are tuned first)',
      'tuned',
    )
    .option('--json', 'print JSON instead of tables')
    .action(
      async (o: {
        model: string;
        precision: string;
        int8Mode: string;
        int8Attention: string;
        scales?: string;
        batch: string;
        iterations: string;
        warmup: string;
        gemm: string;
        json?: boolean;
      }) => {
        // Every option is checked (and --scales read) before the GPU opens: a typo in an INT8 flag
        // must not surface only after the FP32/FP16 tables have run.
        const config = resolveModel(o.model);
        const int8Attention = parseChoice(o.int8Attention, '--int8-attention', ['int8', 'fp16'] as const);
        const gemm = parseChoice(o.gemm, '--gemm', ['auto', 'portable', 'subgroup-matrix', 'tuned'] as const);
        const { fp: fpWanted, int8: withInt8 } = parsePrecisionsWithInt8(o.precision);
        const precisions = fpWanted.length > 0 ? fpWanted : (['fp16'] as const).slice();
        const batches = parseIntList(o.batch, '--batch');
        const iterations = parsePositiveInt(o.iterations, '--iterations');
        const warmup = parseNonNegativeInt(o.warmup, '--warmup');
        const modes = parseIntList(o.int8Mode, '--int8-mode') as (1 | 2)[];
        if (modes.some((m) => m !== 1 && m !== 2))
          throw new InputError(`--int8-mode: expected 1 and/or 2, got "${o.int8Mode}"`, {
            input: '--int8-mode',
          });
        const scales = withInt8 && o.scales ? readScales(o.scales, config) : undefined;
        const log = (l: string) => process.stderr.write(`${l}\n`);
        const gpu = await openGpu();
        const weights = randomWeights(config);
        const fp = await benchEngine({
          config,
          weights,
          gpu,
          precisions,
          batches,
          iterations,
          warmup,
          gemm,
          log,
        });
        let int8: Int8BenchResult | undefined;
        if (withInt8) {
          int8 = await benchInt8Engine({
            config,
            weights,
            gpu,
            modes,
            batches,
            iterations,
            warmup,
            log,
            scales,
            // The same choice for the INT8 GEMMs: portable is their dot4 kernel.
            gemm: gemm === 'portable' ? 'dot4' : gemm,
            // FP16 is timed again in the same process only when the table above has no FP16 rows.
            fp16: !precisions.includes('fp16'),
            fp16Attention: int8Attention === 'fp16',
          });
          for (const r of int8.rows) {
            const base = fp.rows.find((b) => b.precision === 'fp16' && b.batch === r.batch);
            if (base && r.precision !== 'fp16') setSpeedupVsFp16(r, base);
          }
        }
        if (o.json) process.stdout.write(`${JSON.stringify({ ...fp, int8 }, null, 2)}\n`);
        else
          process.stdout.write(
            `${formatEngineBench(fp)}\n${int8 ? `\nINT8\n${formatInt8Bench(int8)}\n` : ''}`,
          );
      },
    );
  bench
    .command('decode')
    .description(
      'frames/s of decodeFrames versus bare ffmpeg -f rawvideo on the same 1080p H.264 file (made from a sample clip unless given)',
    )
    .argument('[file]', 'video file to decode (default: a 1080p H.264 clip generated with ffmpeg)')
    .option('--frames <n>', 'frames to decode per run (the first n of the file)', '300')
    .option(
      '--hwaccel <list>',
      'with any of these three: P decodes at once per hwaccel x pixel format x P, aggregate frames/s and CPU ms/frame; hwaccels from auto, cuda, none (e.g. none,cuda)',
    )
    .option('--parallel <list>', 'decodes of the same file at once (e.g. 1,4,8,16)')
    .option('--pixel-format <list>', 'rgb, nv12 or both (e.g. rgb,nv12)')
    .option('--size <n>', 'output size (square)', '224')
    .option('--json', 'print JSON')
    .action(
      async (
        file: string | undefined,
        o: {
          frames: string;
          json?: boolean;
          hwaccel?: string;
          parallel?: string;
          pixelFormat?: string;
          size: string;
        },
      ) => {
        const frames = parsePositiveInt(o.frames, '--frames');
        const size = parsePositiveInt(o.size, '--size');
        if (o.hwaccel || o.parallel || o.pixelFormat) {
          const choices = <T extends string>(text: string, what: string, all: readonly T[]) =>
            text.split(',').map((x) => parseChoice(x.trim(), what, all));
          const ff = await resolveFfmpeg();
          const clip = await benchClip(ff, file, frames);
          try {
            const opts = {
              file: clip.file,
              ffmpeg: ff,
              frames,
              size,
              hwaccels: choices(o.hwaccel ?? 'none', '--hwaccel', HWACCELS),
              pixelFormats: choices(o.pixelFormat ?? 'rgb', '--pixel-format', PIXEL_FORMATS),
              parallel: parseIntList(o.parallel ?? '1', '--parallel'),
            };
            const rows = await benchParallelDecode(opts);
            process.stdout.write(
              o.json
                ? `${JSON.stringify({ ...opts, ffmpeg: ff, rows }, null, 2)}\n`
                : formatParallelDecode(opts, rows),
            );
          } finally {
            clip.dispose();
          }
          return;
        }
        const r = await benchDecode({ file, frames, size, print: false });
        process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : formatDecodeTable(r));
      },
    );
}
