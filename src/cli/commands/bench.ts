import type { Command } from 'commander';
import { benchDecode, formatTable as formatDecodeTable } from '../../bench/decode.js';
import { benchEngine, formatEngineBench } from '../../bench/engine.js';
import { resolveModel } from '../../engine/presets.js';
import { parseIntList, parsePositiveInt, parsePrecisions } from '../options.js';

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks: the engine table (default) or video decoding');
  bench
    .command('engine', { isDefault: true })
    .description("FasterTransformer's ViT table: latency per batch and precision, img/s, speedup vs FP32, TFLOP/s per GEMM, GPU memory")
    .option('--model <preset|config.json>', 'model (random weights unless --weights)', 'vit-b16-384')
    .option('--precision <list>', 'precisions', 'fp32,fp16')
    .option('--batch <list>', 'batch sizes', '1,8,16,32')
    .option('--iterations <n>', 'timed runs per batch size (median reported)', '20')
    .option('--warmup <n>', 'untimed runs first', '3')
    .option('--gemm <choice>', 'GEMM kernels: auto, portable, subgroup-matrix, tuned (read the `vitstream tune` cache)', 'tuned')
    .option('--json', 'print JSON instead of tables')
    .action(async (o: { model: string; precision: string; batch: string; iterations: string; warmup: string; gemm: string; json?: boolean }) => {
      const result = await benchEngine({
        config: resolveModel(o.model),
        precisions: parsePrecisions(o.precision),
        batches: parseIntList(o.batch, '--batch'),
        iterations: parsePositiveInt(o.iterations, '--iterations'),
        warmup: Number(o.warmup),
        gemm: o.gemm as 'auto' | 'portable' | 'subgroup-matrix' | 'tuned',
        log: (l) => process.stderr.write(`${l}\n`),
      });
      process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatEngineBench(result)}\n`);
    });
  bench
    .command('decode')
    .description('frames/s of decodeFrames versus bare ffmpeg -f rawvideo on the same 1080p H.264 file (made from a sample clip unless given)')
    .argument('[file]', 'video file to decode (default: a 1080p H.264 clip generated with ffmpeg)')
    .option('--json', 'print JSON')
    .action(async (file: string | undefined, o: { json?: boolean }) => {
      const r = await benchDecode({ file, print: false });
      process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : formatDecodeTable(r));
    });
}
