import type { ViTConfig } from '../config.js';
import { type Int8Epilogue, type Int8GemmVariant, int8TileOf } from '../kernels/gemm-int8.js';
import type { Int8Mode } from './int8-plan.js';
import type { Int8Role } from './scales.js';

// What the INT8 engine asks and the INT8 tuner answers: the GEMM shapes of a layer and the tile
// for each. Both import it; neither imports the other.

/** Picks the INT8 GEMM tile for a role and M (rows). */
export type Int8GemmPolicy = (role: Int8Role, M: number, N: number, K: number) => Int8GemmVariant;

/** The INT8 GEMM shapes of one layer (N, K per role; fc1 writes int8 in mode 2). */
export function int8Shapes(
  c: ViTConfig,
  mode: Int8Mode,
  /** Mode 2 with int8 attention (its default): qkv writes int8 too. */
  int8Attention = mode === 2,
): Record<Int8Role, { K: number; N: number; epilogue: Int8Epilogue; outInt8: boolean }> {
  const D = c.hiddenSize;
  const gelu: Int8Epilogue = c.activation === 'gelu_tanh' ? 'bias-gelu-tanh' : 'bias-gelu-erf';
  return {
    qkv: { K: D, N: 3 * D, epilogue: 'bias', outInt8: mode === 2 && int8Attention },
    proj: { K: D, N: D, epilogue: 'bias-residual', outInt8: false },
    fc1: { K: D, N: c.mlpDim, epilogue: gelu, outInt8: mode === 2 },
    fc2: { K: c.mlpDim, N: D, epilogue: 'bias-residual', outInt8: false },
  };
}

/** Workgroups that fill an H100 (132 SMs) twice: below it a smaller tile wins. */
const FILL = 264;

/** Tile by size: the largest tile that still yields enough workgroups to fill the GPU. */
export function defaultTile(M: number, N: number): Int8GemmVariant {
  // H100, ViT-B/16-384 at batch 32, best of 3 in one process after the epilogue kept global
  // memory out of its barrier loop: 128x256 (one K-64 buffer) qkv 0.203 ms, proj 0.096, fc1 0.330,
  // fc2 0.265 against 0.231 / 0.104 / 0.348 / 0.276 for 128x128 (one K-128 buffer), the previous
  // default; where 128x256 tiles cannot fill the GPU, 128x128 and then 64x64 ones.
  const candidates: Int8GemmVariant[] = [
    { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 4, stages: 1 },
    { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 2, bk: 128, stages: 1 },
    { kind: 'subgroup-matrix', sgM: 2, sgN: 2, fm: 4, fn: 2 },
  ];
  for (const v of candidates) {
    const { bm, bn } = int8TileOf(v);
    if (Math.ceil(M / bm) * Math.ceil(N / bn) >= FILL) return v;
  }
  return { kind: 'subgroup-matrix', sgM: 2, sgN: 2, fm: 2, fn: 2 };
}
