import { copyFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readViTConfigFile, type ViTConfig } from '../../../src/engine/config.js';
import { referenceForward } from '../../../src/engine/reference.js';
import type { ViTWeights } from '../../../src/engine/types.js';
import { toFloat32 } from '../../../src/engine/weights/dtype.js';
import { inferConfigFromWeights, loadWeights } from '../../../src/engine/weights/index.js';
import { WeightsFormatError } from '../../../src/errors.js';
import { readNpy } from '../../../src/util/npy.js';
import { relMaxError } from '../../helpers/compare.js';
import { sharedPath } from '../../helpers/shared.js';
import {
  asF32,
  joinNpy,
  type RawTensor,
  readSafetensorsRaw,
  readZipEntries,
  rowSlice,
  splitNpy,
  toHalf,
  writeSafetensors,
  writeZip,
} from './writers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'vitstream-weights-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tmpFile = (name: string) => path.join(tmp, name);

const fixture = (name: string, f: string) => sharedPath('fixtures', name, f);

/** Every canonical tensor, flattened to name -> tensor, for comparisons. */
function flat(w: ViTWeights) {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, v] of Object.entries(w))
    if (k !== 'blocks' && v) out.set(k, v as { shape: number[]; data: Float32Array });
  w.blocks.forEach((b, i) => {
    for (const [k, v] of Object.entries(b)) out.set(`blocks.${i}.${k}`, v);
  });
  return out;
}

/** Largest |a − b| over all tensors; shapes and tensor sets must agree. */
function maxDiff(a: ViTWeights, b: ViTWeights): number {
  const fa = flat(a);
  const fb = flat(b);
  expect([...fa.keys()].sort()).toEqual([...fb.keys()].sort());
  let m = 0;
  for (const [k, t] of fa) {
    const u = fb.get(k)!;
    expect(u.shape, k).toEqual(t.shape);
    expect(u.data.length, k).toBe(t.data.length);
    for (let i = 0; i < t.data.length; i++) m = Math.max(m, Math.abs(t.data[i] - u.data[i]));
  }
  return m;
}

/** Logits of the fixture's four images with these weights, against the golden logits. */
function goldenErr(name: string, config: ViTConfig, w: ViTWeights): number {
  const px = readNpy(fixture(name, 'pixel_values.npy')).data as Float32Array;
  const { logits } = referenceForward(config, w, { kind: 'pixels', data: px, count: 4 });
  return relMaxError(logits, readNpy(fixture(name, 'logits.npy')).data as Float32Array);
}

async function rejection(p: Promise<unknown>): Promise<WeightsFormatError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(WeightsFormatError);
  return e as WeightsFormatError;
}

describe.each(['vit-tiny-test', 'vit-mini-224'])('loading %s', (name) => {
  const config = () => readViTConfigFile(fixture(name, 'config.json'));

  it('gives the same canonical tensors from the Google npz and the timm safetensors', async () => {
    const fromNpz = await loadWeights(fixture(name, 'weights.npz'), config());
    const fromSt = await loadWeights(fixture(name, 'weights.safetensors'), config());
    const { hiddenSize: d, patchSize: p, mlpDim: m, numClasses: c } = config();
    expect(fromNpz.patchKernel.shape).toEqual([p * p * 3, d]);
    expect(fromNpz.blocks[0].qkvKernel.shape).toEqual([d, 3 * d]);
    expect(fromNpz.blocks[0].fc1Kernel.shape).toEqual([d, m]);
    expect(fromNpz.headKernel.shape).toEqual([d, c]);
    expect(maxDiff(fromNpz, fromSt)).toBe(0);
    expect(goldenErr(name, config(), fromSt)).toBeLessThan(1e-4);
  });

  it('infers the model config from either file', async () => {
    const want = config();
    for (const f of ['weights.npz', 'weights.safetensors']) {
      const got = await inferConfigFromWeights(fixture(name, f));
      const dims = (c: ViTConfig) => [
        c.imageSize,
        c.patchSize,
        c.hiddenSize,
        c.numLayers,
        c.mlpDim,
        c.numClasses,
        c.classifier,
        c.finalNorm,
      ];
      expect(dims(got), f).toEqual(dims(want));
      if (f.endsWith('.npz')) expect(got.numHeads).toBe(want.numHeads);
    }
  });
});

describe('Hugging Face ViTForImageClassification names', () => {
  it('load to the same weights as the timm file they were renamed from', async () => {
    const config = readViTConfigFile(fixture('vit-tiny-test', 'config.json'));
    const d = config.hiddenSize;
    const timm = readSafetensorsRaw(fixture('vit-tiny-test', 'weights.safetensors'));
    const t = (n: string) => timm.get(n)!;
    const hf = new Map<string, RawTensor>();
    const put = (n: string, r: RawTensor) => hf.set(n, r);
    put('vit.embeddings.cls_token', t('cls_token'));
    put('vit.embeddings.position_embeddings', t('pos_embed'));
    put('vit.embeddings.patch_embeddings.projection.weight', t('patch_embed.proj.weight'));
    put('vit.embeddings.patch_embeddings.projection.bias', t('patch_embed.proj.bias'));
    for (let i = 0; i < config.numLayers; i++) {
      const b = `blocks.${i}`;
      const l = `vit.encoder.layer.${i}`;
      const qkvW = t(`${b}.attn.qkv.weight`).bytes;
      const qkvB = t(`${b}.attn.qkv.bias`).bytes;
      ['query', 'key', 'value'].forEach((n, s) => {
        put(`${l}.attention.attention.${n}.weight`, {
          dtype: 'F32',
          shape: [d, d],
          bytes: rowSlice(qkvW, d, s * d, (s + 1) * d),
        });
        put(`${l}.attention.attention.${n}.bias`, {
          dtype: 'F32',
          shape: [d],
          bytes: rowSlice(qkvB, 1, s * d, (s + 1) * d),
        });
      });
      for (const [from, to] of [
        ['attn.proj', 'attention.output.dense'],
        ['norm1', 'layernorm_before'],
        ['norm2', 'layernorm_after'],
        ['mlp.fc1', 'intermediate.dense'],
        ['mlp.fc2', 'output.dense'],
      ])
        for (const wb of ['weight', 'bias']) put(`${l}.${to}.${wb}`, t(`${b}.${from}.${wb}`));
    }
    put('vit.layernorm.weight', t('norm.weight'));
    put('vit.layernorm.bias', t('norm.bias'));
    put('classifier.weight', t('head.weight'));
    put('classifier.bias', t('head.bias'));
    const file = tmpFile('hf.safetensors');
    writeSafetensors(file, hf);
    const fromHf = await loadWeights(file, config);
    expect(maxDiff(fromHf, await loadWeights(fixture('vit-tiny-test', 'weights.safetensors'), config))).toBe(
      0,
    );
    expect(goldenErr('vit-tiny-test', config, fromHf)).toBeLessThan(1e-4);
    const inferred = await inferConfigFromWeights(file);
    expect([
      inferred.imageSize,
      inferred.patchSize,
      inferred.hiddenSize,
      inferred.numLayers,
      inferred.numClasses,
    ]).toEqual([config.imageSize, config.patchSize, config.hiddenSize, config.numLayers, config.numClasses]);
  });
});

describe('npz variants (np.savez_compressed, npy v2/v3, float16/float64, big-endian)', () => {
  const name = 'vit-tiny-test';
  const config = () => readViTConfigFile(fixture(name, 'config.json'));

  /** Rewrites every entry of the fixture's npz through `map` into a new zip. */
  async function variant(file: string, deflate: boolean, map: (entry: string, npy: Buffer) => Buffer) {
    const entries = await readZipEntries(fixture(name, 'weights.npz'));
    const out = new Map<string, Uint8Array>();
    for (const [n, npy] of entries) out.set(n, map(n, npy));
    writeZip(tmpFile(file), out, deflate);
    return tmpFile(file);
  }

  it('reads deflated entries and npy v2/v3 headers to the same tensors', async () => {
    const want = await loadWeights(fixture(name, 'weights.npz'), config());
    let i = 0;
    const file = await variant('v23-deflated.npz', true, (_n, npy) => {
      const { header, data } = splitNpy(npy);
      return joinNpy(header, data, (i++ % 2 ? 2 : 3) as 2 | 3);
    });
    expect(maxDiff(await loadWeights(file, config()), want)).toBe(0);
  });

  it('reads ZIP64 archives, stored and deflated', async () => {
    const want = await loadWeights(fixture(name, 'weights.npz'), config());
    const entries = await readZipEntries(fixture(name, 'weights.npz'));
    for (const deflate of [false, true]) {
      const file = tmpFile(`zip64-${deflate}.npz`);
      writeZip(file, entries, deflate, true);
      expect(maxDiff(await loadWeights(file, config()), want)).toBe(0);
    }
  });

  it('converts float64 and big-endian float32 exactly', async () => {
    const want = await loadWeights(fixture(name, 'weights.npz'), config());
    let i = 0;
    const file = await variant('f64-be.npz', false, (_n, npy) => {
      const { header, data } = splitNpy(npy);
      const f = asF32(data);
      if (i++ % 2)
        return joinNpy(header.replace("'<f4'", "'<f8'"), new Uint8Array(Float64Array.from(f).buffer));
      const be = Buffer.alloc(f.length * 4);
      for (const [k, v] of f.entries()) be.writeFloatBE(v, k * 4);
      return joinNpy(header.replace("'<f4'", "'>f4'"), be);
    });
    expect(maxDiff(await loadWeights(file, config()), want)).toBe(0);
  });

  it('converts float16 to weights that still give the golden logits within half precision', async () => {
    const file = await variant('f16.npz', true, (_n, npy) => {
      const { header, data } = splitNpy(npy);
      const h = Uint16Array.from(asF32(data), toHalf);
      return joinNpy(header.replace("'<f4'", "'<f2'"), new Uint8Array(h.buffer));
    });
    const w = await loadWeights(file, config());
    const err = goldenErr(name, config(), w);
    expect(err).toBeLessThan(1e-2);
    expect(err).toBeGreaterThan(0);
  });

  it('decodes IEEE half and bfloat16 bit patterns', () => {
    const half = Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555);
    expect([...toFloat32(new Uint8Array(half.buffer), 'f16', 6)]).toEqual([
      1,
      -2,
      65504,
      2 ** -24,
      Number.POSITIVE_INFINITY,
      Math.fround(0.333251953125),
    ]);
    const bf = Uint16Array.of(0x3f80, 0x4049, 0xc2f7);
    expect([...toFloat32(new Uint8Array(bf.buffer), 'bf16', 3)]).toEqual([1, 3.140625, -123.5]);
  });

  it('reads F16, BF16 and F64 safetensors', async () => {
    const timm = readSafetensorsRaw(fixture(name, 'weights.safetensors'));
    const want = await loadWeights(fixture(name, 'weights.safetensors'), config());
    const f64 = new Map(
      [...timm].map(([n, t]) => [
        n,
        { ...t, dtype: 'F64' as const, bytes: new Uint8Array(Float64Array.from(asF32(t.bytes)).buffer) },
      ]),
    );
    writeSafetensors(tmpFile('f64.safetensors'), f64);
    expect(maxDiff(await loadWeights(tmpFile('f64.safetensors'), config()), want)).toBe(0);
    // bfloat16 by truncation: the top half of each float32.
    const bf16 = new Map(
      [...timm].map(([n, t]) => [
        n,
        {
          ...t,
          dtype: 'BF16' as const,
          bytes: new Uint8Array(
            Uint16Array.from(new Uint32Array(Uint8Array.from(t.bytes).buffer), (u) => u >>> 16).buffer,
          ),
        },
      ]),
    );
    writeSafetensors(tmpFile('bf16.safetensors'), bf16);
    const wb = await loadWeights(tmpFile('bf16.safetensors'), config());
    expect(goldenErr(name, config(), wb)).toBeLessThan(5e-2);
    const f16 = new Map(
      [...timm].map(([n, t]) => [
        n,
        {
          ...t,
          dtype: 'F16' as const,
          bytes: new Uint8Array(Uint16Array.from(asF32(t.bytes), toHalf).buffer),
        },
      ]),
    );
    writeSafetensors(tmpFile('f16.safetensors'), f16);
    expect(goldenErr(name, config(), await loadWeights(tmpFile('f16.safetensors'), config()))).toBeLessThan(
      1e-2,
    );
  });
});

describe('bad weights files', () => {
  const name = 'vit-tiny-test';
  const config = () => readViTConfigFile(fixture(name, 'config.json'));
  const timm = () => readSafetensorsRaw(fixture(name, 'weights.safetensors'));

  it('a missing tensor names it and its expected shape', async () => {
    const t = timm();
    t.delete('blocks.1.mlp.fc2.weight');
    writeSafetensors(tmpFile('missing.safetensors'), t);
    const e = await rejection(loadWeights(tmpFile('missing.safetensors'), config()));
    expect(e.message).toContain(tmpFile('missing.safetensors'));
    const { hiddenSize: d, mlpDim: m } = config();
    expect(e.message).toContain(`tensor 'blocks.1.mlp.fc2.weight' missing (expected shape [${d}, ${m}])`);
  });

  it('a missing npz entry names it', async () => {
    const entries = await readZipEntries(fixture(name, 'weights.npz'));
    entries.delete('Transformer/encoder_norm/scale.npy');
    writeZip(tmpFile('missing.npz'), entries, false);
    const e = await rejection(loadWeights(tmpFile('missing.npz'), config()));
    expect(e.message).toContain(
      `tensor 'Transformer/encoder_norm/scale' missing (expected shape [${config().hiddenSize}])`,
    );
  });

  it('a config of another size names the tensor, the expected and the found shape', async () => {
    const { hiddenSize: d, patchSize: p, imageSize: s } = config();
    const wide = { ...config(), hiddenSize: 2 * d };
    for (const f of ['weights.safetensors', 'weights.npz']) {
      const e = await rejection(loadWeights(fixture(name, f), wide));
      expect(e.message).toContain(fixture(name, f));
      // The message also describes what the file holds, to point at the right --model.
      expect(e.message).toContain(`the file looks like: image ${s}, patch ${p}, hidden ${d},`);
      if (f === 'weights.npz')
        expect(e.message).toContain(
          `tensor 'embedding/kernel': expected shape [${p}, ${p}, 3, ${2 * d}], found [${p}, ${p}, 3, ${d}]`,
        );
      else
        expect(e.message).toContain(
          `tensor 'patch_embed.proj.weight': expected shape [${2 * d}, 3, ${p}, ${p}], found [${d}, 3, ${p}, ${p}]`,
        );
    }
    const deeper = { ...config(), numLayers: config().numLayers + 1 };
    const e = await rejection(loadWeights(fixture(name, 'weights.npz'), deeper));
    expect(e.message).toContain(
      `tensor 'Transformer/encoderblock_${config().numLayers}/LayerNorm_0/scale' missing (expected shape [${d}])`,
    );
  });

  it('a truncated safetensors file names the first tensor cut', async () => {
    const file = tmpFile('cut.safetensors');
    copyFileSync(fixture(name, 'weights.safetensors'), file);
    truncateSync(file, 300_000);
    const e = await rejection(loadWeights(file, config()));
    expect(e.message).toMatch(
      /tensor '[^']+': data ends at byte \d+ but the file has 300000 bytes \(truncated\)/,
    );
  });

  it('a truncated npz says so', async () => {
    const file = tmpFile('cut.npz');
    copyFileSync(fixture(name, 'weights.npz'), file);
    truncateSync(file, 200_000);
    const e = await rejection(loadWeights(file, config()));
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/truncated/);
  });

  it('an npz entry whose data is shorter than its npy header says names the tensor', async () => {
    const entries = await readZipEntries(fixture(name, 'weights.npz'));
    const key = 'head/kernel.npy';
    entries.set(key, entries.get(key)!.subarray(0, entries.get(key)!.length - 8));
    writeZip(tmpFile('short-entry.npz'), entries, false);
    const e = await rejection(loadWeights(tmpFile('short-entry.npz'), config()));
    const { hiddenSize: d, numClasses: c } = config();
    expect(e.message).toMatch(
      new RegExp(
        `tensor 'head/kernel': npy header says f32 \\[${d}, ${c}\\] \\(\\d+ bytes with header\\) but the entry holds \\d+ bytes`,
      ),
    );
  });

  it('garbage, empty, missing files and unknown layouts are refused', async () => {
    writeFileSync(
      tmpFile('garbage.bin'),
      Buffer.from('this is not a checkpoint at all, just text\n'.repeat(10)),
    );
    expect((await rejection(loadWeights(tmpFile('garbage.bin'), config()))).message).toMatch(
      /neither an npz \(zip\) archive nor a safetensors file/,
    );
    writeFileSync(tmpFile('empty.npz'), '');
    expect((await rejection(loadWeights(tmpFile('empty.npz'), config()))).message).toMatch(
      /empty file \(0 bytes\)/,
    );
    expect((await rejection(loadWeights(tmpFile('nope.npz'), config()))).message).toMatch(
      /cannot open weights file/,
    );
    const bad = Buffer.concat([
      Buffer.from([20, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from('{"a": not json at all}'),
    ]);
    writeFileSync(tmpFile('badjson.safetensors'), bad);
    expect((await rejection(loadWeights(tmpFile('badjson.safetensors'), config()))).message).toMatch(
      /header is not JSON/,
    );
    writeSafetensors(
      tmpFile('other.safetensors'),
      new Map([['conv1.weight', { dtype: 'F32', shape: [2], bytes: new Uint8Array(8) }]]),
    );
    expect((await rejection(loadWeights(tmpFile('other.safetensors'), config()))).message).toMatch(
      /match no known ViT layout.*'conv1\.weight'/,
    );
  });

  it('unsupported dtypes and pre-logits layers name the tensor', async () => {
    const t = timm();
    const head = t.get('head.bias')!;
    t.set('head.bias', { ...head, dtype: 'I32' });
    writeSafetensors(tmpFile('int.safetensors'), t);
    expect((await rejection(loadWeights(tmpFile('int.safetensors'), config()))).message).toMatch(
      /tensor 'head\.bias' has dtype I32/,
    );
    const entries = await readZipEntries(fixture(name, 'weights.npz'));
    entries.set(
      'pre_logits/kernel.npy',
      entries.get('Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/bias.npy')!,
    );
    writeZip(tmpFile('prelogits.npz'), entries, false);
    expect((await rejection(loadWeights(tmpFile('prelogits.npz'), config()))).message).toMatch(
      /'pre_logits\/kernel' found: a pre-logits/,
    );
    const ints = await readZipEntries(fixture(name, 'weights.npz'));
    const { header, data } = splitNpy(ints.get('head/bias.npy')!);
    ints.set('head/bias.npy', joinNpy(header.replace("'<f4'", "'<i4'"), data));
    writeZip(tmpFile('int.npz'), ints, false);
    expect((await rejection(loadWeights(tmpFile('int.npz'), config()))).message).toMatch(
      /tensor 'head\/bias': npy dtype '<i4' not supported/,
    );
  });
});

describe('vit-cifar10-demo checkpoint', () => {
  it('loads without a final norm and refuses a config that wants one', async () => {
    const dir = (f: string) => sharedPath('models', 'vit-cifar10-demo', f);
    const config = readViTConfigFile(dir('config.json'));
    const w = await loadWeights(dir('model.safetensors'), config);
    expect(w.normScale).toBeUndefined();
    expect(w.blocks).toHaveLength(4);
    const e = await rejection(loadWeights(dir('model.safetensors'), { ...config, finalNorm: true }));
    expect(e.message).toContain(`tensor 'norm.weight' missing (expected shape [${config.hiddenSize}])`);
  });
});
