import type { Command } from 'commander';
import { formatTable } from '../../bench/table.js';
import { openGpu } from '../../engine/gpu.js';
import { resolveModel } from '../../engine/presets.js';
import { defaultTuningFile, readTuningCache, tuneModel, writeTuningCache } from '../../engine/tuning.js';
import { parseIntList, parsePrecisions } from '../options.js';

export function registerTune(program: Command): void {
  program
    .command('tune')
    .description(
      "GEMM autotuning (like FasterTransformer's vit_gemm): time every kernel variant for each GEMM of a model and keep the fastest",
    )
    .option('--model <preset|config.json>', 'model', 'vit-b16-384')
    .option('--precision <list>', 'precisions', 'fp16,fp32')
    .option('--batch <list>', 'batch sizes', '1,8,16,32')
    .option('--cache <file>', 'tuning cache file', defaultTuningFile())
    .action(async (o: { model: string; precision: string; batch: string; cache: string }) => {
      const config = resolveModel(o.model);
      const gpu = await openGpu();
      const cache = readTuningCache(o.cache);
      const rows = [];
      for (const p of parsePrecisions(o.precision)) {
        const type = p === 'fp16' ? 'f16' : 'f32';
        for (const r of await tuneModel(gpu, config, type, parseIntList(o.batch, '--batch'), cache)) {
          rows.push([
            p,
            r.role,
            r.batch,
            `${r.M}x${r.N}x${r.K}`,
            r.entry.variant,
            r.entry.ms.toFixed(3),
            r.entry.tflops.toFixed(1),
            Object.entries(r.entry.candidates)
              .map(([k, v]) => `${k} ${v.toFixed(3)}`)
              .join(', '),
          ]);
        }
      }
      writeTuningCache(cache, o.cache);
      process.stdout.write(
        `${formatTable(['precision', 'GEMM', 'batch', 'M x N x K', 'best', 'ms', 'TFLOP/s', 'candidates (ms)'], rows)}\nsaved to ${o.cache}\n`,
      );
      gpu.device.destroy();
    });
}
