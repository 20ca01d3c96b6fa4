/** Conversions of stored element types to float32 (little-endian host assumed, as on x86 and ARM). */

import { fromHalfArray } from '../../util/half.js';

export type StoredDtype = 'f32' | 'f16' | 'bf16' | 'f64';

export const DTYPE_BYTES: Record<StoredDtype, number> = { f32: 4, f16: 2, bf16: 2, f64: 8 };

/**
 * Converts `count` elements stored as `dtype` in `bytes` (little-endian) to float32.
 * `bigEndian` swaps bytes first (npy `>f4` and friends).
 */
export function toFloat32(
  bytes: Uint8Array,
  dtype: StoredDtype,
  count: number,
  bigEndian = false,
): Float32Array {
  const size = DTYPE_BYTES[dtype];
  if (bigEndian && size > 1) swapBytes(bytes, size);
  // Copy to a fresh, aligned buffer when the view is not aligned for its element type.
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const { buffer, byteOffset } = aligned;
  switch (dtype) {
    case 'f32':
      return new Float32Array(buffer, byteOffset, count);
    case 'f64':
      return Float32Array.from(new Float64Array(buffer, byteOffset, count));
    case 'f16':
      return fromHalfArray(new Uint16Array(buffer, byteOffset, count));
    case 'bf16': {
      // bfloat16 is the top half of a float32.
      const src = new Uint16Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = src[i] << 16;
      return out;
    }
  }
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}
