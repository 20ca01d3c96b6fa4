import type { ViTConfig } from '../config.js';
import { vitDims } from '../config.js';
import { fillNoise, timeDispatches } from '../gemm-timing.js';
import { BufferUsage, type GpuContext } from '../gpu.js';
import {
  createInt8GemmKernel,
  INT8_SUBGROUP_MATRIX_TILES,
  type Int8Epilogue,
  type Int8GemmVariant,
  int8VariantKey,
  int8VariantSupports,
  int8WorkgroupBytes,
  parseInt8Variant,
} from '../kernels/gemm-int8.js';
import { bindGroup } from '../kernels/source.js';
import {
  adapterKey,
  fastestCandidate,
  shapeKey,
  type TuningCache,
  timeInPasses,
  tunedVariantNear,
} from '../tuning.js';
import type { Int8Mode } from './int8-plan.js';
import { defaultTile, type Int8GemmPolicy, int8Shapes } from './int8-policy.js';
import { INT8_ROLES, type Int8Role } from './scales.js';

/**
 * INT8 GEMM autotuning: the INT8 counterpart of `vitstream tune`, in the same cache file (keys
 * `i8 MxNxK` under the adapter), read by the INT8 engine when it opens.
 */

/** Times one INT8 GEMM shape: `iterations` dispatches in one submit after a warm-up, wall clock. */
export async function timeInt8Gemm(
  device: GPUDevice,
  variant: Int8GemmVariant,
  shape: { M: number; N: number; K: number; epilogue?: Int8Epilogue; outInt8?: boolean },
  iterations = 20,
): Promise<{ ms: number; tops: number }> {
  const { M, N, K } = shape;
  const kernel = await createInt8GemmKernel(
    device,
    shape.epilogue ?? 'bias',
    variant,
    shape.outInt8 ?? false,
  );
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST;
  const buf = (bytes: number) =>
    device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: storage });
  const packed = kernel.params(M, N, K, 0.01, 0.05);
  const params = device.createBuffer({
    size: packed.byteLength,
    usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(params, 0, packed);
  const buffers = {
    params,
    a: buf(M * K),
    b: buf(K * N),
    wScale: buf(N * 4),
    bias: buf(N * 4),
    c: buf(M * N * 2),
    cq: buf(M * N),
  };
  // Operands random, as the FP16 timings' (fillNoise); the f32 scales stay zero, harmlessly.
  for (const b of [buffers.a, buffers.b]) fillNoise(device, b, 'i8');
  const group = bindGroup(device, 'time-int8-gemm', kernel.pipeline, kernel.bindings, buffers);
  const ms = await timeDispatches(device, kernel.pipeline, group, kernel.workgroups(M, N), iterations);
  for (const b of Object.values(buffers)) b.destroy();
  return { ms, tops: (2 * M * N * K) / (ms * 1e-3) / 1e12 };
}

/** One INT8 GEMM shape with the kernel that ran it and how fast. */
export interface Int8GemmTiming {
  role: Int8Role;
  M: number;
  N: number;
  K: number;
  variant: string;
  ms: number;
  /** Tera operations (multiply + add) per second. */
  tops: number;
}

export interface Int8TuneRow extends Int8GemmTiming {
  batch: number;
  /** ms of every tile timed, by key. */
  candidates: Record<string, number>;
}

/**
 * Times every INT8 tensor-core tile for each GEMM of the model at each batch size and records the
 * fastest in `cache` (under this adapter). Adapters without i8 subgroup matrices have one INT8
 * kernel (dot4): nothing to tune, no rows.
 */
export async function tuneInt8Model(
  gpu: GpuContext,
  config: ViTConfig,
  batches: number[],
  mode: Int8Mode,
  cache: TuningCache,
  onRow?: (row: Int8TuneRow) => void,
): Promise<Int8TuneRow[]> {
  if (!gpu.hasI8TensorCores) return [];
  const { tokens } = vitDims(config);
  const shapes = int8Shapes(config, mode);
  const tiles = INT8_SUBGROUP_MATRIX_TILES.filter(
    (v) => int8WorkgroupBytes(v) <= gpu.limits.maxComputeWorkgroupStorageSize,
  );
  const key = adapterKey(gpu);
  cache.adapters[key] ??= {};
  const table = cache.adapters[key];
  const rows: Int8TuneRow[] = [];
  for (const batch of batches) {
    const M = batch * tokens;
    for (const role of INT8_ROLES) {
      const s = shapes[role];
      const variants = new Map(
        tiles.filter((v) => int8VariantSupports(v, s.K, s.N)).map((v) => [int8VariantKey(v), v]),
      );
      const candidates = await timeInPasses([...variants.keys()], (key) =>
        // A tile the driver refuses is left out, not fatal.
        timeInt8Gemm(gpu.device, variants.get(key)!, { M, ...s }, 10).then(
          (t) => t.ms,
          () => undefined,
        ),
      );
      const fastest = fastestCandidate(candidates);
      if (!fastest) continue;
      const [variant, ms] = fastest;
      const tops = (2 * M * s.N * s.K) / (ms * 1e-3) / 1e12;
      table[shapeKey('i8', M, s.N, s.K)] = { variant, ms, tflops: tops, candidates };
      const row = { role, batch, M, N: s.N, K: s.K, variant, ms, tops, candidates };
      rows.push(row);
      onRow?.(row);
    }
  }
  return rows;
}

/**
 * The INT8 engine's GEMM policy from the cache: the tuned tile for this shape or one near it
 * (tunedVariantNear), else the size-based default. Undefined when the
 * cache has no INT8 entry for this adapter (or the adapter has no i8 tensor cores): the engine
 * then chooses by itself, with its fallback to dot4 if the driver rejects the tensor-core kernel.
 */
export function int8TunedPolicy(gpu: GpuContext, cache: TuningCache): Int8GemmPolicy | undefined {
  if (!gpu.hasI8TensorCores) return undefined;
  const table = cache.adapters[adapterKey(gpu)] ?? {};
  if (!Object.keys(table).some((k) => k.startsWith('i8 '))) return undefined;
  const parse = (key: string): Int8GemmVariant | undefined => {
    try {
      return parseInt8Variant(key);
    } catch {
      return undefined; // a name from another version: the default instead
    }
  };
  return (_role, M, N, K) => {
    const near = tunedVariantNear(table, 'i8', M, N, K);
    return (near === undefined ? undefined : parse(near)) ?? defaultTile(M, N);
  };
}
