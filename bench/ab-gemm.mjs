// Old-versus-new timing of GEMM variants in one process: the same keys through this build and
// through another build's dist (e.g. a snapshot before a kernel change), interleaved over rounds,
// best reading per build, variant and shape (single readings on the H100 come out 2-4x slow now
// and then). The key `attention` (`attention-int8`: int8 in and out, INT8 mode 2) times the tensor-core attention kernel instead (ViT-B/16-384, one
// layer; its time shows in the first column).
// Usage (after a build): node bench/ab-gemm.mjs <other-root> [batch] [keys] [rounds] [tokens]
// tokens: 577 (ViT-B/16-384, the default) or 197 (B/16-224: the same GEMMs with fewer rows).
// <other-root> '-' times this build alone (e.g. variants that the other build lacks); roots
// separated by commas time several builds, each named by its folder.
// Keys with the options -h (f16 accumulators), -e (strip epilogue) or -p (pipelined loop) get a
// second table from this build: the largest |C - C_ref| on each shape against the same tile
// without those options (f32 accumulators) on the same inputs: 0 for -e and -p, which reorder
// the same arithmetic, and the cost of -h; a last line gives the largest |C_ref| for scale.
// AB_ACCURACY=0 leaves that table out.
import path from 'node:path';
import { gemmShapes } from './vit-b16-384-shapes.mjs';

const [other, batch = '32', list = 'i8mat-2x4-f4x2-bk128-st1', roundsText = '4', tokensText = '577'] =
  process.argv.slice(2);
if (!other || !/^[1-9]\d*$/.test(tokensText)) {
  console.error('usage: node bench/ab-gemm.mjs <other-root> [batch] [keys] [rounds] [tokens: 577 or 197]');
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
// B/16-224 has the same GEMMs as B/16-384, with 197 tokens an image instead of 577.
const shapes = Object.fromEntries(
  Object.entries(gemmShapes(batch)).map(([name, [, ...rest]]) => [
    name,
    [Number(tokensText) * Number(batch), ...rest],
  ]),
);
const keys = list.split(',');
const best = new Map();
for (let r = 0; r < Number(roundsText); r++) {
  for (const key of keys) {
    for (const [name, b] of Object.entries(builds)) {
      if (key.startsWith('attention')) {
        const shape = { tokens: Number(tokensText), numHeads: 12, headDim: 64, count: Number(batch) };
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
      let v;
      try {
        v = int8 ? b.int8Keys.parseInt8Variant(key) : b.fp16Keys.parseVariant(key);
      } catch {
        continue; // a key this build does not know (e.g. a design it lacks): '-' in its row
      }
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
console.log(`batch ${batch}, ${tokensText} tokens an image, best of ${roundsText} rounds, ms`);
const width = Math.max(28, ...keys.map((k) => k.length + 2));
console.log(
  `${'variant'.padEnd(width)}${'build'.padEnd(6)}${Object.keys(shapes)
    .map((s) => s.padStart(8))
    .join('')}`,
);
for (const key of keys)
  for (const name of Object.keys(builds))
    console.log(
      `${key.padEnd(width)}${name.padEnd(6)}${Object.keys(shapes)
        .map((s) => {
          const v = best.get(`${key}|${name}|${s}`);
          return (v === undefined ? '-' : v.toFixed(3)).padStart(8);
        })
        .join('')}`,
    );

const OPTIONS = ['f16Acc', 'strip', 'pipelined'];
const compared = keys.filter((key) => {
  const v = key.startsWith('sgmat') ? builds.new.fp16Keys.parseVariant(key) : undefined;
  return v && OPTIONS.some((o) => v[o]);
});
if (compared.length > 0 && builds.new.gemm.compareGemm && process.env.AB_ACCURACY !== '0') {
  console.log('\nmax |C - C_ref| against the same tile without -h/-e/-p (f32 accumulators), same inputs');
  const scale = new Map();
  for (const key of compared) {
    const v = builds.new.fp16Keys.parseVariant(key);
    const ref = { ...v };
    for (const o of OPTIONS) delete ref[o];
    const cells = [];
    for (const [shape, [M, N, K, epilogue, outInt8]] of Object.entries(shapes)) {
      if (outInt8) {
        cells.push('-'.padStart(8));
        continue;
      }
      const r = await builds.new.gemm
        .compareGemm(gpu.device, v, ref, 'f16', { M, N, K, epilogue })
        .catch(() => undefined);
      if (r) scale.set(shape, Math.max(scale.get(shape) ?? 0, r.maxAbs));
      cells.push((r ? r.maxAbsDiff.toPrecision(3) : 'NaN').padStart(8));
    }
    console.log(`${key.padEnd(28)}${'diff'.padEnd(6)}${cells.join('')}`);
  }
  console.log(
    `${'max |C_ref|'.padEnd(34)}${Object.keys(shapes)
      .map((s) => (scale.has(s) ? scale.get(s).toPrecision(3) : '-').padStart(8))
      .join('')}`,
  );
}
process.exit(0);
