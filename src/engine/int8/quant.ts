/**
 * CPU side of symmetric int8 quantisation: the numbers the GPU kernels must reproduce, and
 * weight packing. Round half to even (as WGSL's round()), saturate at ±127 (never -128, so
 * that a scale means the same on both sides of zero).
 */

export const QMAX = 127;

/** Round half to even, the rounding of WGSL's round() and of numpy's rint. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** q = clamp(rint(x · (1/scale)), ±127), the product rounded to f32 as the GPU computes it. */
export function quantizeValue(x: number, invScale: number): number {
  const q = roundHalfEven(Math.fround(Math.fround(x) * Math.fround(invScale)));
  return Math.min(QMAX, Math.max(-QMAX, q));
}

export function quantizeArray(x: ArrayLike<number>, scale: number): Int8Array {
  const inv = Math.fround(1 / scale);
  const out = new Int8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = quantizeValue(x[i], inv);
  return out;
}

export function dequantizeArray(q: Int8Array, scale: number): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i] * scale;
  return out;
}

/** The scale that maps `absMax` to 127 (1 for an all-zero tensor, which any scale represents). */
export const scaleFor = (absMax: number) => (absMax > 0 && Number.isFinite(absMax) ? absMax / QMAX : 1);

/** Per-output-channel symmetric scales of a kernel [K, N] (x · W layout): one per column n. */
export function channelScales(w: Float32Array, K: number, N: number): Float32Array {
  const absMax = new Float32Array(N);
  for (let k = 0; k < K; k++) {
    const row = k * N;
    for (let n = 0; n < N; n++) {
      const a = Math.abs(w[row + n]);
      if (a > absMax[n]) absMax[n] = a;
    }
  }
  return absMax.map(scaleFor);
}

/**
 * Quantises a kernel [K, N] per output channel and lays it out as every INT8 GEMM reads it:
 * transposed, [N, K] (a row per output channel), as bytes of 32-bit words (4 int8 each along K,
 * little-endian: element i of a word in bits 8i..8i+7).
 */
export function quantizeKernel(w: Float32Array, K: number, N: number, scales: Float32Array): Int8Array {
  const out = new Int8Array(K * N);
  const inv = scales.map((s) => Math.fround(1 / s));
  for (let k = 0; k < K; k++)
    for (let n = 0; n < N; n++) {
      const q = quantizeValue(w[k * N + n], inv[n]);
      out[n * K + k] = q;
    }
  return out;
}

/** Exact integer GEMM C[M,N] = A[M,K] · B[K,N] (both int8, row-major), in int32. */
export function int8Gemm(a: Int8Array, b: Int8Array, M: number, N: number, K: number): Int32Array {
  const c = new Int32Array(M * N);
  for (let m = 0; m < M; m++)
    for (let k = 0; k < K; k++) {
      const x = a[m * K + k];
      if (x === 0) continue;
      const row = k * N;
      const o = m * N;
      for (let n = 0; n < N; n++) c[o + n] += x * b[row + n];
    }
  return c;
}
