import fs from 'node:fs';
// Whole-model A/B of issue #23's kernel designs in one process: the engine's default GEMM tiles
// with design options added (FP16: -e strip epilogue, -p pipelined loop, -h f16 accumulators;
// INT8: -p, -e, -d direct B) and attention designs (dkv, kt64, q<n>), each set one engine on
// the same random weights, timed as `vitstream bench` times a batch (uint8 upload, pass, logits
// readback), interleaved over rounds, median per set and batch; logits compared with the base set.
// Usage (after a build): node bench/policy-ab.mjs <model> <batches> <fp16|int8-m2> <sets> [rounds]
//   sets: comma-separated, options joined by '+', 'base' for none, e.g. base,e,p,e+p,dkv,kt64,e+dkv
// PYTORCH=file (bench/pytorch_vit.py's output from the same call) adds each set's ratio to PyTorch
// eager FP16 with the same upload and readback, issue #23's yardstick.

import { defaultTensorPolicy } from '../dist/src/engine/gemm-policy.js';
import { openGpu } from '../dist/src/engine/gpu.js';
import { Int8Engine } from '../dist/src/engine/int8/int8-engine.js';
import { defaultTile } from '../dist/src/engine/int8/int8-policy.js';
import {
  parseVariant,
  variantKey,
  variantSupports,
  workgroupBytes,
} from '../dist/src/engine/kernels/gemm.js';
import {
  int8VariantKey,
  int8VariantSupports,
  int8WorkgroupBytes,
  parseInt8Variant,
} from '../dist/src/engine/kernels/gemm-int8.js';
import { randomFrames, randomWeights } from '../dist/src/engine/random-weights.js';
import { WebGpuEngine } from '../dist/src/engine/webgpu-engine.js';
import { resolveModel } from '../dist/src/models/presets.js';
import { benchScales } from './open-bench-engine.mjs';

const [
  model = 'vit-b16-384',
  batchText = '8,16,32',
  precision = 'fp16',
  setText = 'base,e,p',
  roundsText = '3',
] = process.argv.slice(2);
/**
 * Per precision: the GEMM options in their key order, the engine's default tile, the tile's key
 * functions, and how to open the engine.
 */
const KINDS = {
  fp16: {
    options: ['h', 'e', 'p'],
    defaultPolicy: (gpu) => defaultTensorPolicy(gpu),
    key: variantKey,
    parse: parseVariant,
    supports: (v, K, N) => variantSupports(v, 'f16', K, N),
    bytes: workgroupBytes,
    open: (o) => WebGpuEngine.open({ ...o, precision: 'fp16' }),
  },
  'int8-m2': {
    options: ['p', 'e', 'd'],
    defaultPolicy: () => (_role, M, N) => defaultTile(M, N),
    key: int8VariantKey,
    parse: parseInt8Variant,
    supports: int8VariantSupports,
    bytes: int8WorkgroupBytes,
    open: (o) => Int8Engine.open({ ...o, scales, mode: 2 }),
  },
};
const kind = KINDS[precision];
if (!kind) {
  console.error(`policy-ab: precision must be fp16 or int8-m2, got ${precision}`);
  process.exit(2);
}
const batches = batchText.split(',').map(Number);
const rounds = Number(roundsText);
if (!batches.every((b) => Number.isInteger(b) && b >= 1) || !(Number.isInteger(rounds) && rounds >= 1)) {
  console.error(`policy-ab: batches (${batchText}) and rounds (${roundsText}) must be whole numbers >= 1`);
  process.exit(2);
}
let config;
try {
  config = resolveModel(model);
} catch (e) {
  console.error(`policy-ab: ${e.message}`);
  process.exit(2);
}

/** PyTorch FP16 end-to-end ms per batch from pytorch_vit.py's lines, when PYTORCH names its output. */
function pytorchMs() {
  const ms = new Map();
  if (!process.env.PYTORCH) return ms;
  let text;
  try {
    text = fs.readFileSync(process.env.PYTORCH, 'utf8');
  } catch (e) {
    console.error(`policy-ab: PYTORCH=${process.env.PYTORCH}: cannot read it (${e.code ?? e.message})`);
    process.exit(2);
  }
  for (const m of text.matchAll(/ fp16 batch (\d+): [\d.]+ ms \(inputs on GPU\), ([\d.]+) ms/g))
    ms.set(Number(m[1]), Number(m[2]));
  return ms;
}
const torch = pytorchMs();
const torchBatches = batches.filter((b) => torch.has(b));
const gpu = await openGpu();
const weights = randomWeights(config);
const maxBatch = Math.max(...batches);
const limit = gpu.limits.maxComputeWorkgroupStorageSize;

/** One set: its GEMM option suffix (in the key's order) and its attention design. */
function parseSet(text) {
  const design = {};
  const gemm = new Set();
  for (const o of text === 'base' ? [] : text.split('+')) {
    if (o === 'dkv') design.directKv = true;
    else if (o === 'kt64') design.kt64 = true;
    else if (/^q\d+$/.test(o)) design.subgroups = Number(o.slice(1));
    else if (kind.options.includes(o)) gemm.add(o);
    else {
      console.error(
        `policy-ab: unknown option '${o}' in set '${text}' (${kind.options.join(', ')}, dkv, kt64, q<n>)`,
      );
      process.exit(2);
    }
  }
  return {
    name: text,
    design,
    suffix: kind.options
      .filter((o) => gemm.has(o))
      .map((o) => `-${o}`)
      .join(''),
  };
}

/** The default choice with the set's options where that tile takes them, else the default itself. */
function withOptions(suffix, used) {
  const choose = kind.defaultPolicy(gpu);
  return (role, M, N, K) => {
    const base = choose(role, M, N, K);
    if (!suffix || base.kind !== 'subgroup-matrix') return base;
    // The split-K suffix (-s<n>) comes last in FP16 keys; options go before it.
    const k = kind.key(base).replace(/(-s\d+)?$/, (sk) => `${suffix}${sk}`);
    let v;
    try {
      v = kind.parse(k);
    } catch {
      v = undefined;
    }
    const ok = v && kind.supports(v, K, N) && kind.bytes(v) <= limit;
    used.add(`${role}:${ok ? k : `${kind.key(base)} (kept)`}`);
    return ok ? v : base;
  };
}

const scales = precision === 'fp16' ? undefined : await benchScales(gpu, config, weights);

const sets = [];
for (const text of setText.split(',')) {
  const set = parseSet(text);
  const used = new Set();
  try {
    set.engine = await kind.open({
      config,
      weights,
      maxBatch,
      gpu,
      attentionDesign: set.design,
      gemm: withOptions(set.suffix, used),
    });
  } catch (e) {
    console.log(`${text}: cannot open (${e.message.split('\n')[0]})`);
    continue;
  }
  set.used = [...used].sort();
  set.ms = new Map(batches.map((b) => [b, []]));
  sets.push(set);
}

const inputs = new Map(batches.map((b) => [b, { kind: 'rgb', data: randomFrames(config, b, 7), count: b }]));
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const logits = new Map();
for (let r = 0; r < rounds; r++)
  for (const set of sets)
    for (const b of batches) {
      const input = inputs.get(b);
      for (let i = 0; i < 2; i++) await set.engine.infer(input);
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        const out = await set.engine.infer(input);
        set.ms.get(b).push(performance.now() - t0);
        if (r === 0 && i === 0) logits.set(`${set.name}/${b}`, Float32Array.from(out.logits ?? out));
      }
    }

const maxDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const base = sets.find((s) => s.name === 'base') ?? sets[0];
const columns = [
  ...batches.map((b) => [`b${b} ms`, (set) => med(set.ms.get(b)).toFixed(2)]),
  ...batches.map((b) => [`b${b} vs base`, (set) => (med(set.ms.get(b)) / med(base.ms.get(b))).toFixed(3)]),
  ...torchBatches.map((b) => [
    `b${b} vs PyTorch`,
    (set) => `${(med(set.ms.get(b)) / torch.get(b)).toFixed(2)}x`,
  ]),
  [
    'max abs logit diff vs base',
    (set) =>
      Math.max(
        ...batches.map((b) => maxDiff(logits.get(`${set.name}/${b}`), logits.get(`${base.name}/${b}`))),
      ).toExponential(2),
  ],
];
console.log(
  `\n${model} ${precision} on ${gpu.info.description}: ms a batch (median of ${rounds}x10), upload and readback included`,
);
if (torchBatches.length)
  console.log(
    `PyTorch eager FP16 (same upload and readback): ${torchBatches.map((b) => `b${b} ${torch.get(b)} ms`).join(', ')}`,
  );
console.log(`| set | ${columns.map(([name]) => name).join(' | ')} |`);
console.log(`|---|${columns.map(() => '---|').join('')}`);
for (const set of sets) console.log(`| ${set.name} | ${columns.map(([, cell]) => cell(set)).join(' | ')} |`);
for (const set of sets) if (set.suffix) console.log(`${set.name} GEMMs: ${set.used.join(', ')}`);
process.exit(0);
