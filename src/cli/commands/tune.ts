import type { Command } from 'commander';
import { openGpu } from '../../engine/gpu.js';
import { tuneInt8Model } from '../../engine/int8/int8-tuning.js';
import {
  batchesCovered,
  defaultTuningFile,
  readTuningCache,
  tuneModel,
  writeTuningCache,
} from '../../engine/tuning.js';
import { resolveModel } from '../../models/presets.js';
import { checkWritable } from '../../util/output-file.js';
import { formatTable } from '../../util/table.js';
import { parseInt8Mode, parseIntList, parsePrecisionsWithInt8 } from '../options.js';

export function registerTune(program: Command): void {
  program
    .command('tune')
    .description(
      "GEMM autotuning (like FasterTransformer's vit_gemm): time every kernel variant for each GEMM of a model and keep the fastest",
    )
    .option('--model <preset|config.json>', 'model', 'vit-b16-384')
    .option('--precision <list>', 'precisions: fp16, fp32, int8 (INT8 tensor-core tiles)', 'fp16,fp32')
    .option('--int8-mode <1|2>', 'INT8 mode whose GEMM shapes are tuned', '1')
    .option('--batch <list>', 'batch sizes', '1,8,16,32')
    .option('--cache <file>', 'tuning cache file', defaultTuningFile())
    .action(
      async (o: { model: string; precision: string; batch: string; cache: string; int8Mode: string }) => {
        const config = resolveModel(o.model);
        const { fp: precisions, int8 } = parsePrecisionsWithInt8(o.precision);
        const mode = parseInt8Mode(o.int8Mode);
        const batches = parseIntList(o.batch, '--batch');
        // Minutes of timings on a tensor-core adapter: an unwritable cache path fails first.
        checkWritable(o.cache, 'the tuning cache');
        const gpu = await openGpu();
        const cache = readTuningCache(o.cache);
        const rows = [];
        if (int8) {
          if (!gpu.hasI8TensorCores)
            process.stderr.write(
              `int8: adapter "${gpu.info.description}" has no i8 tensor cores; its one INT8 kernel (dot4) needs no tuning\n`,
            );
          for (const r of await tuneInt8Model(gpu, config, batches, mode, cache)) {
            rows.push([
              `int8-m${mode}`,
              r.role,
              r.batch,
              `${r.M}x${r.N}x${r.K}`,
              r.variant,
              r.ms.toFixed(3),
              r.tops.toFixed(1),
              candidatesText(r.candidates),
            ]);
          }
        }
        for (const p of precisions) {
          const type = p === 'fp16' ? 'f16' : 'f32';
          for (const r of await tuneModel(gpu, config, type, batches, cache)) {
            rows.push([
              p,
              r.role,
              r.batch,
              `${r.M}x${r.N}x${r.K}`,
              r.entry.variant,
              r.entry.ms.toFixed(3),
              r.entry.tflops.toFixed(1),
              candidatesText(r.entry.candidates),
            ]);
          }
        }
        writeTuningCache(cache, o.cache);
        process.stdout.write(
          `${formatTable(['precision', 'GEMM', 'batch', 'M x N x K', 'best', 'ms', 'TFLOP/s (TOP/s)', 'candidates (ms)'], rows)}\nsaved to ${o.cache}\nengines use these tiles at batch sizes ${batchesCovered(batches)}; other sizes take the default tiles\n`,
        );
        gpu.device.destroy();
      },
    );
}

/** The candidates column: every tile timed, with its ms. */
const candidatesText = (candidates: Record<string, number>) =>
  Object.entries(candidates)
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join(', ');
