import type { GemmRole } from './forward-plan.js';
import type { GpuContext } from './gpu.js';
import { type GemmVariant, variantSupports, workgroupBytes } from './kernels/gemm.js';

/** Chooses the GEMM variant for a role and M (rows); the tuner's cache plugs in here. */
export type GemmPolicy = (role: GemmRole, M: number, N: number, K: number) => GemmVariant;

/**
 * The tensor-core GEMM choice without a tuning cache entry (the engine's default, and what
 * `tunedPolicy` falls back to for shapes it has not seen).
 */
export function defaultTensorPolicy(gpu: GpuContext): GemmPolicy {
  // Untuned defaults from `vitstream tune` on an H100 (ViT-B/16-384, batches 1-32, warmed-up
  // timings on random operands): 128x128 tiles (one K-64 buffer, 16-byte loads) won every shape
  // with at least 90 of them (qkv at batch 1: 0.029 vs 0.039 ms for 64x64) and lost with 30 (proj
  // at batch 1: 0.040 vs 0.019 ms for 64x64 with one K-128 buffer, which also beat 64x64 with
  // two K-32 buffers there, 0.022).
  type Tile = Extract<GemmVariant, { kind: 'subgroup-matrix' }>;
  const small: Tile = { kind: 'subgroup-matrix', sgM: 2, sgN: 2, bk: 128, wide: true, stages: 1 };
  const smallSplit: Tile = { kind: 'subgroup-matrix', sgM: 2, sgN: 2, wide: true };
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
  // A deep GEMM with few tiles (fc2 of one 384x384 image: 30 of 128x128, K = 3072) leaves most of
  // the GPU idle: split K in two over 64x64 tiles (0.039 ms; 0.044 unsplit with K-128 steps,
  // 0.079 with 128x128 tiles). Shallow ones (K = 768) lost to their reduce pass.
  // 128x256 tiles (8 subgroups of 64x64, one K-32 buffer) where there are enough of them: every
  // ViT-B/16-384 GEMM from batch 8 on (batch 32 fc1: 0.509-0.521 vs 0.583-0.591 ms for 128x128;
  // batch 8 fc2: 0.128 vs 0.176); at batch 1 (45 of them for qkv) 128x128 stays ahead.
  const huge: Tile = { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 4, wide: true, stages: 1 };
  const limit = gpu.limits.maxComputeWorkgroupStorageSize;
  return (_role, M, N, K) => {
    // 16-byte loads need K and N multiples of 8; the same tiles with 8-byte loads otherwise.
    const pick = (v: Tile): Tile =>
      variantSupports(v, 'f16', K, N)
        ? v
        : { kind: 'subgroup-matrix', sgM: v.sgM, sgN: v.sgN, fm: v.fm, fn: v.fn };
    const fits = (v: Tile) => variantSupports(v, 'f16', K, N) && workgroupBytes(v) <= limit;
    if (fits(huge) && Math.ceil(M / 128) * Math.ceil(N / 256) >= 64) return huge;
    if (workgroupBytes(large) <= limit && Math.ceil(M / 128) * Math.ceil(N / 128) >= 64) return pick(large);
    if (K >= 2048 && K % 64 === 0) return { ...pick(smallSplit), splitK: 2 };
    return workgroupBytes(small) <= limit ? pick(small) : pick(smallSplit);
  };
}
