import { type ViTConfig, vitDims } from '../config.js';
import type { Observe } from '../observe.js';
import { attention, checkInput, geluErf, geluTanh, gemm, layerNorm, patchify } from '../reference.js';
import type { EngineInput, ViTWeights } from '../types.js';

/**
 * The FP32 forward pass of src/engine/reference.ts (same numerics: its GEMM, LayerNorm and
 * GELU), instrumented at the inputs of the qkv, proj, fc1 and fc2 GEMMs and at the output of
 * qkv (the input of attention), where the INT8 engine quantises. Returns the logits so that
 * callers can also compare. Kept separate from the reference so that the reference stays a plain
 * yardstick.
 */
export function observeForward(
  config: ViTConfig,
  w: ViTWeights,
  input: EngineInput,
  observe: Observe,
): Float32Array {
  checkInput(config, input, 'calibration forward');
  const { numPatches, tokens: t, patchDim } = vitDims(config);
  const n = input.count;
  const d = config.hiddenSize;
  const rows = n * t;
  const eps = config.layerNormEps;
  const gelu = config.activation === 'gelu_tanh' ? geluTanh : geluErf;

  const emb = new Float32Array(n * numPatches * d);
  gemm(patchify(config, input), w.patchKernel.data, w.patchBias.data, emb, n * numPatches, patchDim, d);
  const x = new Float32Array(rows * d);
  const pos = w.posEmbedding.data;
  const first = config.classifier === 'token' ? 1 : 0;
  for (let i = 0; i < n; i++) {
    if (first && w.cls) for (let j = 0; j < d; j++) x[i * t * d + j] = w.cls.data[j] + pos[j];
    for (let q = 0; q < numPatches; q++) {
      const xo = (i * t + first + q) * d;
      const eo = (i * numPatches + q) * d;
      const po = (first + q) * d;
      for (let j = 0; j < d; j++) x[xo + j] = emb[eo + j] + pos[po + j];
    }
  }
  const h = new Float32Array(rows * d);
  const qkv = new Float32Array(rows * 3 * d);
  const att = new Float32Array(rows * d);
  const mlp = new Float32Array(rows * config.mlpDim);
  for (const [l, b] of w.blocks.entries()) {
    layerNorm(x, b.ln1Scale.data, b.ln1Bias.data, h, rows, d, eps);
    observe(l, 'qkv', h);
    gemm(h, b.qkvKernel.data, b.qkvBias.data, qkv, rows, d, 3 * d);
    observe(l, 'attention', qkv);
    for (let i = 0; i < n; i++) attention(qkv, att, i * t, t, d, config.numHeads);
    observe(l, 'proj', att);
    gemm(att, b.projKernel.data, b.projBias.data, x, rows, d, d, x);
    layerNorm(x, b.ln2Scale.data, b.ln2Bias.data, h, rows, d, eps);
    observe(l, 'fc1', h);
    gemm(h, b.fc1Kernel.data, b.fc1Bias.data, mlp, rows, d, config.mlpDim);
    for (let i = 0; i < mlp.length; i++) mlp[i] = gelu(mlp[i]);
    observe(l, 'fc2', mlp);
    gemm(mlp, b.fc2Kernel.data, b.fc2Bias.data, x, rows, config.mlpDim, d, x);
  }
  if (config.finalNorm && w.normScale && w.normBias)
    layerNorm(x, w.normScale.data, w.normBias.data, x, rows, d, eps);
  const pooled = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    if (config.classifier === 'token') pooled.set(x.subarray(i * t * d, i * t * d + d), i * d);
    else {
      const acc = new Float64Array(d);
      for (let q = 0; q < t; q++) for (let j = 0; j < d; j++) acc[j] += x[(i * t + q) * d + j];
      for (let j = 0; j < d; j++) pooled[i * d + j] = acc[j] / t;
    }
  }
  const logits = new Float32Array(n * config.numClasses);
  gemm(pooled, w.headKernel.data, w.headBias.data, logits, n, d, config.numClasses);
  return logits;
}
