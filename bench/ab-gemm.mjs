// Old-versus-new timing of GEMM variants in one process: the same keys through this build and
// through another build's dist (e.g. a snapshot before a kernel change), interleaved over rounds,
// best reading per build, variant and shape (single readings on the H100 come out 2-4x slow now
// and then). The key `attention` (`attention-int8`: int8 in and out, INT8 mode 2) times the tensor-core attention kernel instead (ViT-B/16-384, one
// layer; its time shows in the first column).
// Usage (after a build): node bench/ab-gemm.mjs <other-root> [batch] [keys] [rounds]
// <other-root> '-' times this build alone (e.g. variants that the other build lacks); roots
// separated by commas time several builds, each named by its folder.
import path from 'node:path';
import { gemmShapes } from './vit-b16-384-shapes.mjs';

const [other, batch = '32', list = 'i8mat-2x4-f4x2-bk128-st1', roundsText = '4'] = process.argv.slice(2);
if (!other) {
  console.error('usage: node bench/ab-gemm.mjs <other-root> [batch] [keys] [rounds]');
  process.exit(2);
}
const load = async (root) => ({
  gemm: await import(path.resolve(root, 'dist/src/engine/gemm-timing.js')),
  int8: await import(path.resolve(root, 'dist/src/engine/int8/int8-tuning.js')),
  fp16Keys: await import(path.resolve(root, 'dist/src/engine/kernels/gemm.js')),
  int8Keys: await import(path.resolve(root, 'dist/src/engine/kernels/gemm-int8.js')),
  attentionKeys: await import(path.resolve(root, 'dist/src/engine/kernels/attention.js')),
});
// Several other builds: comma-separated roots, named by their last path component.
const builds = { new: await load('.') };
if (other !== '-')
  for (const root of other.split(','))
    builds[other.includes(',') ? path.basename(root) : 'old'] = await load(root);
const { openGpu } = await import(path.resolve('dist/src/engine/gpu.js'));
const gpu = await openGpu();
const shapes = gemmShapes(batch);
const keys = list.split(',');
const best = new Map();
for (let r = 0; r < Number(roundsText); r++) {
  for (const key of keys) {
    for (const [name, b] of Object.entries(builds)) {
      if (key.startsWith('attention')) {
        const shape = { tokens: 577, numHeads: 12, headDim: 64, count: Number(batch) };
        // Design keys (attention-dkv-kt64, ...: parseAttentionKey); builds without them time today's kernel.
        const parsed = b.attentionKeys.parseAttentionKey?.(key);
        const io = parsed?.io ?? (key.startsWith('attention-int8') ? 'int8' : 'float');
        // Builds before the timing probes left the kernels took a probe number before io.
        const hasProbe = b.gemm.timeAttention.toString().includes('probe');
        const rest = hasProbe ? [0, io] : [io, parsed?.design ?? {}];
        const ms = await b.gemm.timeAttention(gpu.device, 'subgroup-matrix', 'f16', shape, 20, ...rest).then(
          (t) => t.ms,
          () => Number.NaN,
        );
        const k = `${key}|${name}|qkv`;
        best.set(k, Math.min(best.get(k) ?? Number.POSITIVE_INFINITY, ms));
        continue;
      }
      const int8 = key.startsWith('i8mat');
      const v = int8 ? b.int8Keys.parseInt8Variant(key) : b.fp16Keys.parseVariant(key);
      for (const [shape, [M, N, K, epilogue, outInt8]] of Object.entries(shapes)) {
        if (outInt8 && !int8) continue;
        const ms = await (int8
          ? b.int8.timeInt8Gemm(gpu.device, v, { M, N, K, epilogue, outInt8 })
          : b.gemm.timeGemm(gpu.device, v, 'f16', { M, N, K, epilogue })
        ).then(
          (t) => t.ms,
          () => Number.NaN,
        );
        const k = `${key}|${name}|${shape}`;
        best.set(k, Math.min(best.get(k) ?? Number.POSITIVE_INFINITY, ms));
      }
    }
  }
}
console.log(`batch ${batch}, best of ${roundsText} rounds, ms`);
console.log(
  `${'variant'.padEnd(28)}${'build'.padEnd(6)}${Object.keys(shapes)
    .map((s) => s.padStart(8))
    .join('')}`,
);
for (const key of keys)
  for (const name of Object.keys(builds))
    console.log(
      `${key.padEnd(28)}${name.padEnd(6)}${Object.keys(shapes)
        .map((s) => {
          const v = best.get(`${key}|${name}|${s}`);
          return (v === undefined ? '-' : v.toFixed(3)).padStart(8);
        })
        .join('')}`,
    );
process.exit(0);
