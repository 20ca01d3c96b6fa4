import { describe, expect, it } from 'vitest';
import { fromHalfArray, fromHalfBits, toHalfArray, toHalfBits } from '../../src/util/half.js';

/** The value of a half bit pattern from its definition: (-1)^s · 2^(e-15) · (1 + m/1024), subnormals, inf, NaN. */
function halfValue(h: number): number {
  const s = h >> 15 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return e === 0 ? s * m * 2 ** -24 : s * (1024 + m) * 2 ** (e - 25);
}

/** Whether h is the half nearest to v (ties to an even mantissa), or the infinity v rounds to. */
function isNearestEven(v: number, h: number): boolean {
  const got = halfValue(h);
  if (Math.abs(v) >= 65520) return got === Math.sign(v) * Number.POSITIVE_INFINITY;
  if (Math.sign(got) === -Math.sign(v) && got !== 0) return false;
  const err = Math.abs(got - v);
  for (const n of [h - 1, h + 1]) {
    if ((n & 0x7fff) === 0x7fff || n < 0 || n > 0xffff || (n ^ h) & 0x8000) continue;
    const d = Math.abs(halfValue(n) - v);
    if (d < err) return false;
    if (d === err && (h & 1) === 1) return false;
  }
  return true;
}

describe('IEEE half conversion', () => {
  it('reads every one of the 65536 half bit patterns as its defined value', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const got = fromHalfArray(all);
    for (let h = 0; h < 65536; h++) {
      const want = halfValue(h);
      if (Number.isNaN(want)) expect(Number.isNaN(got[h]), `0x${h.toString(16)}`).toBe(true);
      else if (got[h] !== want) expect(got[h], `0x${h.toString(16)}`).toBe(want);
      if (h % 4099 === 0) expect(Object.is(fromHalfBits(h), want) || Number.isNaN(want)).toBe(true);
    }
  });

  it('writes the nearest half, ties to even, for floats across the whole float32 range', () => {
    // Random bit patterns (every exponent: subnormal, normal and overflowing halves), the
    // midpoints between neighbouring halves (the ties), and their immediate float32 neighbours.
    const values: number[] = [
      0,
      -0,
      65504,
      65519.99,
      65520,
      -65520,
      2 ** -24,
      2 ** -25,
      3 * 2 ** -26,
      2 ** -14,
    ];
    let s = 12345;
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let i = 0; i < 200_000; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      u[0] = s;
      if (Number.isFinite(f[0])) values.push(f[0]);
    }
    for (let h = 0; h < 0x7bff; h += 7) {
      const mid = (halfValue(h) + halfValue(h + 1)) / 2;
      for (const v of [mid, -mid]) {
        f[0] = v;
        if (f[0] !== v) continue; // not a float32
        const bits = u[0];
        values.push(v);
        u[0] = bits + 1;
        values.push(f[0]);
        u[0] = bits - 1;
        values.push(f[0]);
      }
    }
    const src = Float32Array.from(values);
    const arr = toHalfArray(src);
    let bad = 0;
    for (let i = 0; i < src.length; i++) {
      if (!isNearestEven(src[i], arr[i])) {
        bad++;
        if (bad < 5) expect.soft(arr[i], `${src[i]}`).toBe(-1);
      }
      if (arr[i] !== toHalfBits(src[i])) expect(toHalfBits(src[i]), `scalar ${src[i]}`).toBe(arr[i]);
    }
    expect(bad).toBe(0);
    expect(toHalfArray(Float32Array.of(Number.NaN))[0] & 0x7c00).toBe(0x7c00);
    expect(toHalfArray(Float32Array.of(Number.NEGATIVE_INFINITY))[0]).toBe(0xfc00);
  });
});
