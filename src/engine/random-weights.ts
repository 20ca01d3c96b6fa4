import { type ViTConfig, vitDims } from './config.js';
import type { BlockWeights, Tensor, ViTWeights } from './types.js';

/**
 * Random weights of a model's shape (timm's init scale: normal, std 0.02; LayerNorm near
 * identity), from a seeded generator so that two runs and two precisions see the same model.
 * For benchmarks and precision agreement checks, where real checkpoints cannot be shipped.
 */
export function randomWeights(config: ViTConfig, seed = 1): ViTWeights {
  let s = seed >>> 0;
  const uniform = () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (std: number, mean = 0) =>
    mean + std * Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
  const tensor = (shape: number[], std: number, mean = 0): Tensor => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = normal(std, mean);
    return { data, shape };
  };
  const D = config.hiddenSize;
  const { tokens, patchDim } = vitDims(config);
  const block = (): BlockWeights => ({
    ln1Scale: tensor([D], 0.02, 1),
    ln1Bias: tensor([D], 0.02),
    qkvKernel: tensor([D, 3 * D], 0.02),
    qkvBias: tensor([3 * D], 0.02),
    projKernel: tensor([D, D], 0.02),
    projBias: tensor([D], 0.02),
    ln2Scale: tensor([D], 0.02, 1),
    ln2Bias: tensor([D], 0.02),
    fc1Kernel: tensor([D, config.mlpDim], 0.02),
    fc1Bias: tensor([config.mlpDim], 0.02),
    fc2Kernel: tensor([config.mlpDim, D], 0.02),
    fc2Bias: tensor([D], 0.02),
  });
  return {
    patchKernel: tensor([patchDim, D], 0.02),
    patchBias: tensor([D], 0.02),
    cls: config.classifier === 'token' ? tensor([D], 0.02) : undefined,
    posEmbedding: tensor([tokens, D], 0.02),
    blocks: Array.from({ length: config.numLayers }, block),
    normScale: config.finalNorm ? tensor([D], 0.02, 1) : undefined,
    normBias: config.finalNorm ? tensor([D], 0.02) : undefined,
    // A larger head spread so that random-weight logits have a clear top-1 to agree on.
    headKernel: tensor([D, config.numClasses], 0.2),
    headBias: tensor([config.numClasses], 0.02),
  };
}

/** Deterministic pseudo-random uint8 frames [count, S, S, 3]. */
export function randomFrames(config: ViTConfig, count: number, seed = 7): Uint8Array {
  const out = new Uint8Array(count * config.imageSize * config.imageSize * 3);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}
