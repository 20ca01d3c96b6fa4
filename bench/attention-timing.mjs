// Times each attention kernel the adapter can run on a model's attention shape, per batch size.
// Usage (after a build): node bench/attention-timing.mjs [model] [batches] [keys] [rounds]
//   e.g. node bench/attention-timing.mjs vit-b16-384 1,8,32
// With keys (attentionKey's: attention, attention-dkv, attention-kt64, attention-int8-kt64-q5, ...),
// only the tensor-core kernel with those designs, interleaved over rounds in one process, best
// reading per key and batch (single readings on the H100 come out 2-4x slow now and then):
//   node bench/attention-timing.mjs vit-b16-384 8,32 attention,attention-dkv,attention-dkv-kt64 4

import { timeAttention } from '../dist/src/engine/gemm-timing.js';
import { openGpu } from '../dist/src/engine/gpu.js';
import {
  attentionShape,
  attentionSupports,
  parseAttentionKey,
} from '../dist/src/engine/kernels/attention.js';
import { resolveModel } from '../dist/src/models/presets.js';

const [model = 'vit-b16-384', batches = '1,8,32', keyList, roundsText = '4'] = process.argv.slice(2);
const config = resolveModel(model);
const shape = attentionShape(config);
const gpu = await openGpu();
console.log(
  `attention ${model}: T=${shape.tokens} heads=${shape.numHeads} hd=${shape.headDim} on ${gpu.info.description}`,
);
const counts = batches.split(',').map(Number);

if (keyList) {
  const keys = keyList.split(',');
  const designs = keys.map((key) => {
    const parsed = parseAttentionKey(key);
    if (!parsed) {
      console.error(
        `attention-timing: unknown key ${key} (e.g. attention, attention-int8-kt64, attention-dkv-q5)`,
      );
      process.exit(2);
    }
    return parsed;
  });
  if (!attentionSupports('subgroup-matrix', gpu.hasF16TensorCores, 'f16', shape.headDim)) {
    console.error('attention-timing: this adapter has no f16 tensor cores (subgroup matrices)');
    process.exit(2);
  }
  const best = new Map();
  const failed = new Map();
  for (let r = 0; r < Number(roundsText); r++)
    for (const count of counts)
      for (const [i, key] of keys.entries()) {
        const { io, design } = designs[i];
        const cell = `${key}|${count}`;
        const ms = await timeAttention(
          gpu.device,
          'subgroup-matrix',
          'f16',
          { ...shape, count },
          20,
          io,
          design,
        ).then(
          (t) => t.ms,
          (e) => {
            failed.set(cell, e.message.split('\n')[0]);
            return Number.NaN;
          },
        );
        best.set(cell, Math.min(best.get(cell) ?? Number.POSITIVE_INFINITY, ms));
      }
  console.log(`${model}, best of ${roundsText} rounds, ms per layer (TFLOP/s)`);
  console.log(`${'key'.padEnd(30)}${counts.map((c) => `batch ${c}`.padStart(20)).join('')}`);
  for (const key of keys)
    console.log(
      `${key.padEnd(30)}${counts
        .map((count) => {
          const ms = best.get(`${key}|${count}`);
          const tflops =
            (4 * count * shape.numHeads * shape.tokens ** 2 * shape.headDim) / (ms * 1e-3) / 1e12;
          return (Number.isNaN(ms) ? 'failed' : `${ms.toFixed(4)} (${tflops.toFixed(0)})`).padStart(20);
        })
        .join('')}`,
    );
  for (const [cell, message] of failed) console.log(`  ${cell}: ${message}`);
  process.exit(0);
}

for (const count of counts) {
  for (const [variant, type, io = 'float'] of [
    ['portable', 'f32'],
    ['portable', 'f16'],
    ['portable', 'f16', 'int8'],
    ['subgroup-matrix', 'f16'],
    ['subgroup-matrix', 'f16', 'int8'],
  ]) {
    if (
      !attentionSupports(variant, gpu.hasF16TensorCores, type, shape.headDim) ||
      (type === 'f16' && !gpu.features.has('shader-f16'))
    )
      continue;
    const t = await timeAttention(
      gpu.device,
      variant,
      type,
      { ...shape, count },
      count >= 16 && variant === 'portable' ? 3 : 20,
      io,
    );
    const name = `${variant}${io === 'int8' ? ' int8 io' : ''}`;
    console.log(
      `  batch ${String(count).padStart(2)} ${name.padEnd(24)} ${type}: ${t.ms.toFixed(3)} ms per layer (x${config.numLayers} = ${(t.ms * config.numLayers).toFixed(1)} ms), ${t.tflops.toFixed(1)} TFLOP/s`,
    );
  }
}
process.exit(0);
