import { EngineError } from '../errors.js';
import { type ViTConfig, vitDims } from './config.js';
import { checkInput, frameColors } from './input.js';
import type { Engine, EngineInput, ViTWeights } from './types.js';
import { yuvFrameBytes, yuvToRgb } from './yuv.js';

export { checkInput };

/**
 * A plain FP32 CPU forward pass of a ViT: the yardstick the GPU engine is tested against and
 * the `--backend cpu` engine. Storage is float32 like the GPU's; sums (GEMM, LayerNorm,
 * softmax) are float64, so its own rounding stays far below the goldens' 1e-4.
 */

// ---- numerics -------------------------------------------------------------------------

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const SQRT_PI = Math.sqrt(Math.PI);

/**
 * erf to about 1e-15 absolute: below 2.5 the all-positive series
 * erf(x) = 2/√π · e^(−x²) · Σ (2x²)^n x / (1·3·…·(2n+1)) (no cancellation), above it the
 * continued fraction of erfc. A cheap approximation (Abramowitz–Stegun 7.1.26: 1.5e-7) would
 * pass the goldens too, but would blur the reference the GPU kernels are judged by.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 2.5) {
    const x2 = 2 * ax * ax;
    let term = ax;
    let sum = ax;
    for (let n = 1; term > 1e-17 * sum; n++) {
      term *= x2 / (2 * n + 1);
      sum += term;
    }
    r = TWO_OVER_SQRT_PI * Math.exp(-ax * ax) * sum;
  } else if (ax < 6) {
    // erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated bottom-up.
    let f = ax;
    for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
    r = 1 - Math.exp(-ax * ax) / (SQRT_PI * f);
  } else r = 1;
  return x < 0 ? -r : r;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
export const geluErf = (x: number) => 0.5 * x * (1 + erf(x * Math.SQRT1_2));
export const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));

/**
 * out[m, n] = a[m, k] · b[k, n] + bias (+ residual), b in [in, out] layout. b is transposed
 * once per call so that both operands stream along k, and each 4x4 output tile is summed in
 * sixteen float64 locals (registers): twice the speed of an i-k-j loop over typed-array
 * accumulators, and no rounding until the single store. `out` may be `residual`.
 */
export function gemm(
  a: Float32Array,
  b: Float32Array,
  bias: Float32Array | undefined,
  out: Float32Array,
  m: number,
  k: number,
  n: number,
  residual?: Float32Array,
): void {
  const bt = new Float32Array(n * k);
  for (let kk = 0; kk < k; kk++) for (let j = 0; j < n; j++) bt[j * k + kk] = b[kk * n + j];
  const tile = new Float64Array(16);
  for (let i = 0; i < m; i += 4) {
    // Past the edge, rows and columns repeat the last one; their sums are never stored.
    const a0 = i * k;
    const a1 = Math.min(i + 1, m - 1) * k;
    const a2 = Math.min(i + 2, m - 1) * k;
    const a3 = Math.min(i + 3, m - 1) * k;
    for (let j = 0; j < n; j += 4) {
      const b0 = j * k;
      const b1 = Math.min(j + 1, n - 1) * k;
      const b2 = Math.min(j + 2, n - 1) * k;
      const b3 = Math.min(j + 3, n - 1) * k;
      let c00 = 0,
        c01 = 0,
        c02 = 0,
        c03 = 0,
        c10 = 0,
        c11 = 0,
        c12 = 0,
        c13 = 0;
      let c20 = 0,
        c21 = 0,
        c22 = 0,
        c23 = 0,
        c30 = 0,
        c31 = 0,
        c32 = 0,
        c33 = 0;
      for (let kk = 0; kk < k; kk++) {
        const x0 = a[a0 + kk];
        const x1 = a[a1 + kk];
        const x2 = a[a2 + kk];
        const x3 = a[a3 + kk];
        const y0 = bt[b0 + kk];
        const y1 = bt[b1 + kk];
        const y2 = bt[b2 + kk];
        const y3 = bt[b3 + kk];
        c00 += x0 * y0;
        c01 += x0 * y1;
        c02 += x0 * y2;
        c03 += x0 * y3;
        c10 += x1 * y0;
        c11 += x1 * y1;
        c12 += x1 * y2;
        c13 += x1 * y3;
        c20 += x2 * y0;
        c21 += x2 * y1;
        c22 += x2 * y2;
        c23 += x2 * y3;
        c30 += x3 * y0;
        c31 += x3 * y1;
        c32 += x3 * y2;
        c33 += x3 * y3;
      }
      tile[0] = c00;
      tile[1] = c01;
      tile[2] = c02;
      tile[3] = c03;
      tile[4] = c10;
      tile[5] = c11;
      tile[6] = c12;
      tile[7] = c13;
      tile[8] = c20;
      tile[9] = c21;
      tile[10] = c22;
      tile[11] = c23;
      tile[12] = c30;
      tile[13] = c31;
      tile[14] = c32;
      tile[15] = c33;
      for (let r = 0; r < 4 && i + r < m; r++)
        for (let q = 0; q < 4 && j + q < n; q++) {
          const o = (i + r) * n + j + q;
          out[o] = tile[r * 4 + q] + (bias ? bias[j + q] : 0) + (residual ? residual[o] : 0);
        }
    }
  }
}

/** Row-wise LayerNorm of x[rows, d] into out (which may be x); two-pass variance. */
export function layerNorm(
  x: Float32Array,
  scale: Float32Array,
  bias: Float32Array,
  out: Float32Array,
  rows: number,
  d: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x[o + j];
    mean /= d;
    let v = 0;
    for (let j = 0; j < d; j++) {
      const t = x[o + j] - mean;
      v += t * t;
    }
    const inv = 1 / Math.sqrt(v / d + eps);
    for (let j = 0; j < d; j++) out[o + j] = (x[o + j] - mean) * inv * scale[j] + bias[j];
  }
}

/** Self-attention of one image: qkv rows [t, 3d] from `base`, softmax(q·kᵀ/√hd)·v per head into out rows [t, d]. */
export function attention(
  qkv: Float32Array,
  out: Float32Array,
  base: number,
  t: number,
  d: number,
  heads: number,
): void {
  const hd = d / heads;
  const stride = 3 * d;
  const scale = 1 / Math.sqrt(hd);
  const scores = new Float64Array(t);
  const acc = new Float64Array(hd);
  for (let h = 0; h < heads; h++) {
    const qo = base * stride + h * hd;
    const ko = qo + d;
    const vo = qo + 2 * d;
    for (let i = 0; i < t; i++) {
      const qi = qo + i * stride;
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < t; j++) {
        const kj = ko + j * stride;
        let s = 0;
        for (let e = 0; e < hd; e++) s += qkv[qi + e] * qkv[kj + e];
        s *= scale;
        scores[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j < t; j++) {
        const p = Math.exp(scores[j] - max);
        scores[j] = p;
        sum += p;
      }
      acc.fill(0);
      for (let j = 0; j < t; j++) {
        const p = scores[j] / sum;
        const vj = vo + j * stride;
        for (let e = 0; e < hd; e++) acc[e] += p * qkv[vj + e];
      }
      const oi = (base + i) * d + h * hd;
      for (let e = 0; e < hd; e++) out[oi + e] = acc[e];
    }
  }
}

// ---- input ----------------------------------------------------------------------------

/**
 * Rows (image, patch row, patch column) x columns (py, px, channel), the canonical patch
 * kernel's row order; RGB bytes are normalised on the way as (x/255 − mean)/std.
 */
export function patchify(config: ViTConfig, input: EngineInput): Float32Array {
  const { grid, numPatches, patchDim } = vitDims(config);
  const s = config.imageSize;
  const p = config.patchSize;
  const out = new Float32Array(input.count * numPatches * patchDim);
  const scale = config.std.map((v) => 1 / (255 * v));
  const shift = config.mean.map((m, c) => m / config.std[c]);
  const rgb = input.kind === 'pixels' ? undefined : rgbValues(config, input);
  let o = 0;
  for (let n = 0; n < input.count; n++)
    for (let gy = 0; gy < grid; gy++)
      for (let gx = 0; gx < grid; gx++)
        for (let py = 0; py < p; py++) {
          const y = gy * p + py;
          for (let px = 0; px < p; px++) {
            const x = gx * p + px;
            for (let c = 0; c < 3; c++) {
              out[o++] = rgb
                ? rgb[((n * s + y) * s + x) * 3 + c] * scale[c] - shift[c]
                : input.data[((n * 3 + c) * s + y) * s + x];
            }
          }
        }
  return out;
}

/** A batch of uint8 frames as RGB values in [0, 255]: the bytes themselves, or YUV converted (yuv.ts). */
function rgbValues(config: ViTConfig, input: EngineInput): ArrayLike<number> {
  if (input.kind === 'rgb' || input.kind === 'pixels') return input.data;
  const s = config.imageSize;
  const per = yuvFrameBytes(s, s);
  const colors = frameColors(input);
  const out = new Float32Array(input.count * s * s * 3);
  for (let n = 0; n < input.count; n++)
    yuvToRgb(input.data.subarray(n * per, (n + 1) * per), input.kind, s, s, colors[n], out, n * s * s * 3);
  return out;
}

// ---- forward --------------------------------------------------------------------------

export interface ReferenceOptions {
  /** Also return the intermediates the golden fixtures hold. */
  capture?: boolean;
}

export interface ReferenceResult {
  /** [N, C] */
  logits: Float32Array;
  /** [N, T, D]: patch embedding + class token + position embedding. Only with `capture`. */
  embeddings?: Float32Array;
  /** [N, T, D]: output of encoder block 0. Only with `capture`. */
  block0?: Float32Array;
  /** [N, T, D]: after the final LayerNorm (or the last block when the model has none). Only with `capture`. */
  features?: Float32Array;
}

/**
 * The forward pass as steps: it yields after the embedding and after each block, so that the
 * CPU engine can let the event loop breathe between them while a batch takes seconds.
 */
function* forwardSteps(
  config: ViTConfig,
  w: ViTWeights,
  input: EngineInput,
  opts: ReferenceOptions,
): Generator<void, ReferenceResult> {
  checkInput(config, input);
  const { numPatches, tokens: t, patchDim } = vitDims(config);
  const n = input.count;
  const d = config.hiddenSize;
  const rows = n * t;
  const eps = config.layerNormEps;
  const gelu = config.activation === 'gelu_tanh' ? geluTanh : geluErf;
  const result: ReferenceResult = { logits: new Float32Array(n * config.numClasses) };

  const emb = new Float32Array(n * numPatches * d);
  gemm(patchify(config, input), w.patchKernel.data, w.patchBias.data, emb, n * numPatches, patchDim, d);
  const x = new Float32Array(rows * d);
  const pos = w.posEmbedding.data;
  const first = config.classifier === 'token' ? 1 : 0;
  for (let i = 0; i < n; i++) {
    if (first) {
      if (!w.cls)
        throw new EngineError(
          `model ${config.name}: class-token classifier but the weights have no class token`,
        );
      for (let j = 0; j < d; j++) x[i * t * d + j] = w.cls.data[j] + pos[j];
    }
    for (let q = 0; q < numPatches; q++) {
      const xo = (i * t + first + q) * d;
      const eo = (i * numPatches + q) * d;
      const po = (first + q) * d;
      for (let j = 0; j < d; j++) x[xo + j] = emb[eo + j] + pos[po + j];
    }
  }
  if (opts.capture) result.embeddings = x.slice();
  yield;

  const h = new Float32Array(rows * d);
  const qkv = new Float32Array(rows * 3 * d);
  const att = new Float32Array(rows * d);
  const mlp = new Float32Array(rows * config.mlpDim);
  for (const [l, b] of w.blocks.entries()) {
    layerNorm(x, b.ln1Scale.data, b.ln1Bias.data, h, rows, d, eps);
    gemm(h, b.qkvKernel.data, b.qkvBias.data, qkv, rows, d, 3 * d);
    for (let i = 0; i < n; i++) attention(qkv, att, i * t, t, d, config.numHeads);
    gemm(att, b.projKernel.data, b.projBias.data, x, rows, d, d, x);
    layerNorm(x, b.ln2Scale.data, b.ln2Bias.data, h, rows, d, eps);
    gemm(h, b.fc1Kernel.data, b.fc1Bias.data, mlp, rows, d, config.mlpDim);
    for (let i = 0; i < mlp.length; i++) mlp[i] = gelu(mlp[i]);
    gemm(mlp, b.fc2Kernel.data, b.fc2Bias.data, x, rows, config.mlpDim, d, x);
    if (opts.capture && l === 0) result.block0 = x.slice();
    yield;
  }

  if (config.finalNorm) {
    if (!w.normScale || !w.normBias)
      throw new EngineError(`model ${config.name}: final_norm is on but the weights have no final LayerNorm`);
    layerNorm(x, w.normScale.data, w.normBias.data, x, rows, d, eps);
  }
  if (opts.capture) result.features = x.slice();
  // Google's order for `gap`: final LayerNorm on every token, then the mean.
  const pooled = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    if (config.classifier === 'token') pooled.set(x.subarray(i * t * d, i * t * d + d), i * d);
    else {
      const acc = new Float64Array(d);
      for (let q = 0; q < t; q++) for (let j = 0; j < d; j++) acc[j] += x[(i * t + q) * d + j];
      for (let j = 0; j < d; j++) pooled[i * d + j] = acc[j] / t;
    }
  }
  gemm(pooled, w.headKernel.data, w.headBias.data, result.logits, n, d, config.numClasses);
  return result;
}

/** Runs the whole forward pass synchronously. */
export function referenceForward(
  config: ViTConfig,
  weights: ViTWeights,
  input: EngineInput,
  opts: ReferenceOptions = {},
): ReferenceResult {
  const steps = forwardSteps(config, weights, input, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The `--backend cpu` engine: the reference forward pass behind the Engine interface. Batches
 * run one at a time in call order, yielding to the event loop between blocks.
 */
export function createCpuEngine(
  config: ViTConfig,
  weights: ViTWeights,
  opts: { maxBatch?: number } = {},
): Engine {
  const maxBatch = opts.maxBatch ?? 16;
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  const run = async (input: EngineInput): Promise<Float32Array> => {
    const steps = forwardSteps(config, weights, input, {});
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value.logits;
      await tick();
      if (closed) throw new EngineError(`cpu engine (${config.name}) was closed during inference`);
    }
  };
  return {
    config,
    backend: 'cpu',
    precision: 'fp32',
    maxBatch,
    infer(input) {
      if (closed) return Promise.reject(new EngineError(`cpu engine (${config.name}) is closed`));
      if (input.count > maxBatch)
        return Promise.reject(
          new EngineError(
            `cpu engine (${config.name}): batch of ${input.count} exceeds maxBatch ${maxBatch}`,
          ),
        );
      try {
        checkInput(config, input, `cpu engine (${config.name})`);
      } catch (e) {
        return Promise.reject(e);
      }
      const p = queue.then(() => run(input));
      queue = p.catch(() => undefined);
      return p;
    },
    async close() {
      closed = true;
      await queue;
    },
  };
}
