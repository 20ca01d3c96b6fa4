// Times each attention kernel the adapter can run on a model's attention shape, per batch size.
// Usage (after a build): node bench/attention-timing.mjs [model] [batches]
//   e.g. node bench/attention-timing.mjs vit-b16-384 1,8,32

import { timeAttention } from '../dist/src/engine/gemm-timing.js';
import { openGpu } from '../dist/src/engine/gpu.js';
import { attentionShape, attentionSupports } from '../dist/src/engine/kernels/attention.js';
import { resolveModel } from '../dist/src/models/presets.js';

const [model = 'vit-b16-384', batches = '1,8,32'] = process.argv.slice(2);
const config = resolveModel(model);
const shape = attentionShape(config);
const gpu = await openGpu();
console.log(
  `attention ${model}: T=${shape.tokens} heads=${shape.numHeads} hd=${shape.headDim} on ${gpu.info.description}`,
);
for (const count of batches.split(',').map(Number)) {
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
