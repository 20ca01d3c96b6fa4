import type { StoredDtype } from './dtype.js';

/** What an npy header says about the array that follows it. */
export interface NpyHeader {
  dtype: StoredDtype;
  bigEndian: boolean;
  /** Column-major data (`np.save` of a transposed array, as in Google's and the fixtures' kernels). */
  fortran: boolean;
  shape: number[];
  /** Bytes from the start of the .npy to the first data byte. */
  dataOffset: number;
}

const DESCR: Record<string, StoredDtype> = { f4: 'f32', f2: 'f16', f8: 'f64' };

/**
 * Parses an npy header (format versions 1, 2 and 3) from the first bytes of a `.npy`.
 * Returns `{ need }` when `bytes` is too short to hold the whole header, and throws a plain
 * Error (the caller adds the file and tensor name) when it is not an npy header at all.
 */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader | { need: number } {
  if (bytes.length < 12) return { need: 12 };
  if (bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY')
    throw new Error('not an npy array (bad magic)');
  const major = bytes[6];
  if (major < 1 || major > 3)
    throw new Error(`npy format version ${major} not supported (1, 2 or 3 expected)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (bytes.length < start + headerLen) return { need: start + headerLen };
  const decoder = new TextDecoder(major === 3 ? 'utf-8' : 'latin1');
  const header = decoder.decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || shapeText === undefined)
    throw new Error(`malformed npy header ${JSON.stringify(header)}`);
  const m = /^([<>=|])([a-z]\d+)$/.exec(descr);
  const dtype = m ? DESCR[m[2]] : undefined;
  if (!m || !dtype)
    throw new Error(`npy dtype '${descr}' not supported (float16, float32 or float64 expected)`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => Number(s.replace(/L$/, '')));
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`malformed npy shape (${shapeText})`);
  const fortran = /'fortran_order'\s*:\s*True/.test(header);
  return { dtype, bigEndian: m[1] === '>', fortran, shape, dataOffset: start + headerLen };
}

/** Reorders column-major (Fortran) data of `shape` into row-major order. */
export function fortranToC(data: Float32Array, shape: readonly number[]): Float32Array {
  if (shape.filter((d) => d > 1).length < 2) return data;
  const out = new Float32Array(data.length);
  const rank = shape.length;
  const fStride = new Array<number>(rank);
  for (let k = 0, s = 1; k < rank; k++) {
    fStride[k] = s;
    s *= shape[k];
  }
  // Odometer over row-major indices, tracking the column-major offset alongside.
  const idx = new Array<number>(rank).fill(0);
  let f = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[f];
    for (let k = rank - 1; k >= 0; k--) {
      idx[k]++;
      f += fStride[k];
      if (idx[k] < shape[k]) break;
      f -= idx[k] * fStride[k];
      idx[k] = 0;
    }
  }
  return out;
}
