import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toFloat32 } from '../../src/engine/weights/dtype.js';
import { openSafetensors } from '../../src/engine/weights/index.js';
import { CATALOG } from '../../src/models/catalog.js';
import { convertedPath, ensureConverted } from '../../src/models/convert.js';
import { toTimmSafetensors } from '../../src/models/to-safetensors.js';
import { toHalfBits as floatToHalf } from '../../src/util/half.js';
import { sharedPath } from '../helpers/shared.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vitstream-conv-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The fixture's npz, copied to a scratch folder because the converted copy is written beside its source. */
async function scratchNpz(fixture: string): Promise<string> {
  const p = path.join(dir, 'weights.npz');
  await copyFile(sharedPath('fixtures', fixture, 'weights.npz'), p);
  return p;
}

describe('npz to safetensors conversion', () => {
  // The fixtures hold the same weights twice: Google npz and timm's own safetensors export. Converting the
  // npz must reproduce timm's file tensor for tensor.
  for (const fixture of ['vit-tiny-test', 'vit-mini-224']) {
    it(`reproduces timm's tensors from the Google npz (${fixture}, f32)`, async () => {
      const out = await ensureConverted(await scratchNpz(fixture), toTimmSafetensors, { dtype: 'f32' });
      expect(out).toBe(path.join(dir, 'weights.canonical-f32.safetensors'));
      const ours = await openSafetensors(out);
      const timm = await openSafetensors(sharedPath('fixtures', fixture, 'weights.safetensors'));
      try {
        expect([...ours.names].sort()).toEqual([...timm.names].sort());
        for (const name of timm.names) {
          expect(ours.shape(name), name).toEqual(timm.shape(name));
          const [a, b] = [await ours.read(name), await timm.read(name)];
          let worst = 0;
          for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
          expect(worst, name).toBeLessThanOrEqual(1e-6);
        }
      } finally {
        await Promise.all([ours.close(), timm.close()]);
      }
    });
  }

  it('writes float16 within half precision of the float32 weights', async () => {
    const out = await ensureConverted(await scratchNpz('vit-tiny-test'), toTimmSafetensors, { dtype: 'f16' });
    const ours = await openSafetensors(out);
    const timm = await openSafetensors(sharedPath('fixtures', 'vit-tiny-test', 'weights.safetensors'));
    try {
      for (const name of timm.names) {
        const [a, b] = [await ours.read(name), await timm.read(name)];
        let over = 0; // error beyond the half-precision bound; 0 when rounding is right
        for (let i = 0; i < b.length; i++)
          over = Math.max(over, Math.abs(a[i]! - b[i]!) - (Math.abs(b[i]!) * 2 ** -11 + 2 ** -25));
        expect(over, name).toBe(0);
      }
    } finally {
      await Promise.all([ours.close(), timm.close()]);
    }
  });

  it('converts once and reuses the result', async () => {
    const src = await scratchNpz('vit-tiny-test');
    let calls = 0;
    const counting: typeof toTimmSafetensors = async (...args) => {
      calls++;
      return toTimmSafetensors(...args);
    };
    const a = await ensureConverted(src, counting);
    const b = await ensureConverted(src, counting);
    expect(b).toBe(a);
    expect(calls).toBe(1);
  });

  it('names converted copies beside the download', () => {
    const entry = CATALOG.find((e) => e.format === 'npz')!;
    const p = convertedPath(entry, { cacheDir: '/c', dtype: 'f16' });
    expect(p).toBe(
      path.join(
        '/c',
        'weights',
        entry.id.replace('/', '--'),
        `${entry.fileName.replace('.npz', '')}.canonical-f16.safetensors`,
      ),
    );
  });
});

describe('floatToHalf', () => {
  it('gives the IEEE binary16 bit patterns', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [65520, 0x7c00], // halfway above the largest half: rounds to infinity
      [2 ** -24, 0x0001],
      [2 ** -14, 0x0400],
      [1 + 2 ** -11, 0x3c00], // tie rounds to even
      [1 + 3 * 2 ** -11, 0x3c02],
      [Number.POSITIVE_INFINITY, 0x7c00],
    ];
    for (const [v, bits] of cases) expect(floatToHalf(v), String(v)).toBe(bits);
    expect(floatToHalf(Number.NaN) & 0x7c00).toBe(0x7c00);
  });

  it('round-trips through the loader within half an ulp', () => {
    const values = new Float32Array(2000).map((_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 9) - 5));
    const h = Uint16Array.from(values, floatToHalf);
    const back = toFloat32(new Uint8Array(h.buffer), 'f16', h.length);
    for (let i = 0; i < values.length; i++) {
      const v = Math.abs(values[i]!);
      const ulp = v >= 2 ** -14 ? 2 ** (Math.floor(Math.log2(v)) - 10) : 2 ** -24;
      expect(Math.abs(back[i]! - values[i]!)).toBeLessThanOrEqual(ulp / 2);
    }
  });
});
