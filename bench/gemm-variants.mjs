// Times GEMM kernel variants (any parseable key, including timing-only ones such as pre-transposed
// B, `-bt`) on the ViT-B/16-384 GEMM shapes at one batch size; prints ms and TFLOP/s per shape.
// INT8 keys (i8mat-...) are timed with the INT8 kernels (TOP/s).
// Usage (after a build): node bench/gemm-variants.mjs [batch] [variant,variant,...]

import { timeGemm } from '../dist/src/engine/gemm-timing.js';
import { openGpu } from '../dist/src/engine/gpu.js';
import { timeInt8Gemm } from '../dist/src/engine/int8/int8-tuning.js';
import { parseVariant, SUBGROUP_MATRIX_TILES, variantKey } from '../dist/src/engine/kernels/gemm.js';
import { parseInt8Variant } from '../dist/src/engine/kernels/gemm-int8.js';
import { gemmShapes } from './vit-b16-384-shapes.mjs';

const [batch = '32', list] = process.argv.slice(2);
const keys = list ? list.split(',') : SUBGROUP_MATRIX_TILES.map(variantKey);
const shapes = gemmShapes(batch);
const gpu = await openGpu();
console.log(
  `variant`.padEnd(24) +
    Object.keys(shapes)
      .map((s) => s.padStart(16))
      .join(''),
);
for (const key of keys) {
  const int8 = key.startsWith('i8mat');
  const v = int8 ? parseInt8Variant(key) : parseVariant(key);
  if (!v) {
    console.log(`${key}: unknown variant`);
    continue;
  }
  let line = key.padEnd(24);
  for (const [M, N, K, epilogue, outInt8] of Object.values(shapes)) {
    if (outInt8 && !int8) continue;
    try {
      const t = int8
        ? await timeInt8Gemm(gpu.device, v, { M, N, K, epilogue, outInt8 }).then((r) => ({
            ms: r.ms,
            tflops: r.tops,
          }))
        : await timeGemm(gpu.device, v, 'f16', { M, N, K, epilogue });
      line += `${t.ms.toFixed(3)} ${t.tflops.toFixed(0).padStart(4)}T`.padStart(16);
    } catch (e) {
      console.log(`${key}: ${e.message}`);
      line += 'error'.padStart(16);
      break;
    }
  }
  console.log(line);
}
process.exit(0);
