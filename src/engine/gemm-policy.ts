import type { GpuContext } from './gpu.js';
import { type GemmVariant, variantSupports, workgroupBytes } from './kernels/gemm.js';
import type { GemmPolicy } from './webgpu-engine.js';

/**
 * The tensor-core GEMM choice without a tuning cache entry (the engine's default, and what
 * `tunedPolicy` falls back to for shapes it has not seen).
 */
export function defaultTensorPolicy(gpu: GpuContext): GemmPolicy {
  // Untuned defaults from `vitstream tune` on an H100: 128x128 tiles (one K-64 buffer, 16-byte
  // loads) win once there are enough of them to fill the GPU, 64x64 ones below that.
  type Tile = Extract<GemmVariant, { kind: 'subgroup-matrix' }>;
  const small: Tile = { kind: 'subgroup-matrix', sgM: 2, sgN: 2, wide: true };
  const large: Tile = {
    kind: 'subgroup-matrix',
    sgM: 2,
    sgN: 4,
    fm: 4,
    fn: 2,
    bk: 64,
    wide: true,
    stages: 1,
  };
  // A deep GEMM with few 64x64 tiles (fc2 of one 384x384 image: 120 tiles, K = 3072) leaves most
  // of the GPU idle: split K in two (tuned on an H100: 0.20 vs 0.31 ms). Shallow ones (K = 768)
  // lost to their reduce pass.
  return (_role, M, N, K) => {
    const fits = workgroupBytes(large) <= gpu.limits.maxComputeWorkgroupStorageSize;
    // 16-byte loads need K and N multiples of 8; the same tiles with 8-byte loads otherwise.
    const pick = (v: Tile): Tile =>
      variantSupports(v, 'f16', K, N)
        ? v
        : { kind: 'subgroup-matrix', sgM: v.sgM, sgN: v.sgN, fm: v.fm, fn: v.fn };
    if (fits && Math.ceil(M / 128) * Math.ceil(N / 128) >= 256) return pick(large);
    const deep = K >= 2048 && K % 64 === 0 && Math.ceil(M / 64) * Math.ceil(N / 64) < 256;
    return deep ? { ...pick(small), splitK: 2 } : pick(small);
  };
}
