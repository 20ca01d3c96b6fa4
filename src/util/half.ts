/**
 * IEEE 754 half precision conversion (Node 20 has no Float16Array). Round to nearest even,
 * with overflow to infinity and gradual underflow to subnormals.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toHalfBits(value: number): number {
  f32[0] = value;
  return halfOfFloatBits(u32[0]);
}

/** toHalfBits of the float32 whose bit pattern is `x`. */
function halfOfFloatBits(x: number): number {
  const a = x & 0x7fffffff;
  // Normal halves (2^-14 <= |v| < 65536; rounding may carry up to infinity) in integer arithmetic
  // on the bits, round to nearest even: rebias the exponent, add 0xfff plus the lowest kept
  // mantissa bit, drop 13 bits (as F. Giesen's float_to_half_fast3_rtne). 2-3x faster than the
  // general path below, which handles zeros, subnormals, infinities and NaN.
  if (a >= 0x38800000 && a < 0x47800000)
    return ((x >>> 16) & 0x8000) | ((a - 0x37fff001 + ((a >>> 13) & 1)) >>> 13);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // may carry into the exponent: still correct
  return sign | h;
}

export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Whole arrays read the float32 bit patterns in place (a model's weights: ~86M values at open). */
export function toHalfArray(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfOfFloatBits(bits[i]);
  return out;
}

/**
 * The float32 of every half bit pattern, made on first use (a memo of fromHalfBits, never
 * written after): a table lookup per value converted ViT-B/16's f16 weights ~20x faster than
 * the arithmetic (Math.pow per value).
 */
let halfValues: Float32Array | undefined;
function halfTable(): Float32Array {
  if (!halfValues) {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = fromHalfBits(h);
    halfValues = t;
  }
  return halfValues;
}

export function fromHalfArray(src: Uint16Array): Float32Array {
  const table = halfTable();
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  return out;
}
