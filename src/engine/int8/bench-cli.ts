#!/usr/bin/env node
/**
 * `node dist/src/engine/int8/bench-cli.js [--model vit-b16-384] [--batch 1,8,16,32] [--modes 1,2]
 *  [--scales scales.json] [--weights file] [--gemm auto|dot4|subgroup-matrix|tuned] [--fp16] [--json]`:
 * the INT8 engine table alone (`vitstream bench --precision int8` prints it beside the FP table).
 */
import { Command } from 'commander';
import { parseIntList, parsePositiveInt } from '../../cli/options.js';
import { resolveModel } from '../presets.js';
import { loadWeights } from '../weights/index.js';
import { benchInt8Engine, formatInt8Bench } from './bench.js';
import type { Int8Mode } from './int8-plan.js';
import { readScales } from './scales.js';

const o = new Command('int8-bench')
  .option('--model <preset|config.json>', 'model', 'vit-b16-384')
  .option('--weights <file>', 'weights (random when absent)')
  .option('--scales <file>', 'scales.json from vitstream calibrate (calibrated on random frames when absent)')
  .option('--calib-frames <n>', 'random frames to calibrate on when no --scales', '8')
  .option('--batch <list>', 'batch sizes', '1,8,16,32')
  .option('--modes <list>', 'INT8 modes', '1,2')
  .option('--iterations <n>', 'timed runs per batch', '20')
  .option('--warmup <n>', 'untimed runs first', '3')
  .option('--gemm <choice>', 'auto, dot4, subgroup-matrix, tuned', 'tuned')
  .option('--fp16', 'time the FP16 engine too, in the same process')
  .option('--json', 'JSON output')
  .parse()
  .opts<{
    model: string;
    weights?: string;
    scales?: string;
    calibFrames: string;
    batch: string;
    modes: string;
    iterations: string;
    warmup: string;
    gemm: string;
    fp16?: boolean;
    json?: boolean;
  }>();

const config = resolveModel(o.model);
const result = await benchInt8Engine({
  config,
  weights: o.weights ? await loadWeights(o.weights, config) : undefined,
  scales: o.scales ? readScales(o.scales, config) : undefined,
  calibFrames: parsePositiveInt(o.calibFrames, '--calib-frames'),
  modes: parseIntList(o.modes, '--modes').filter((m): m is Int8Mode => m === 1 || m === 2),
  batches: parseIntList(o.batch, '--batch'),
  iterations: parsePositiveInt(o.iterations, '--iterations'),
  warmup: Number(o.warmup),
  gemm: o.gemm as 'auto' | 'dot4' | 'subgroup-matrix' | 'tuned',
  fp16: o.fp16,
  log: (l) => process.stderr.write(`${l}\n`),
});
process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatInt8Bench(result)}\n`);
process.exit(0);
