import { paramsLayout } from './params.js';
import { computePipeline, type ElementType, kernelSource, spread } from './source.js';

/** Bindings of both LayerNorm kernels (layernorm_int8's y is packed int8). */
export const LAYERNORM_BINDINGS = ['params', 'x', 'gamma', 'beta', 'y'] as const;

export const LAYERNORM_PARAMS = paramsLayout([
  { name: 'rows', type: 'u32' },
  { name: 'hidden', type: 'u32' },
  { name: 'inRowStride', type: 'u32' },
  { name: 'eps', type: 'f32' },
]);

/** Invocations per row: the workgroup size WG of both LayerNorm kernels. */
export const LAYERNORM_THREADS = 128;

/** Row-wise LayerNorm with f32 statistics (kernels/layernorm.wgsl). */
export interface LayerNormKernel {
  pipeline: GPUComputePipeline;
  bindings: typeof LAYERNORM_BINDINGS;
  /** LAYERNORM_PARAMS. */
  params(rows: number, hidden: number, inRowStride: number, eps: number): ArrayBuffer;
  workgroups(rows: number): [number, number, number];
}

/**
 * `hidden` sizes the registers that hold a row (rows of other sizes are not supported); the
 * reductions use subgroups where the device has them.
 */
export async function createLayerNormKernel(
  device: GPUDevice,
  type: ElementType,
  hidden: number,
  subgroups = device.features.has('subgroups'),
): Promise<LayerNormKernel> {
  const consts = {
    WG: LAYERNORM_THREADS,
    PER_THREAD: Math.ceil(hidden / LAYERNORM_THREADS),
    SUBGROUPS: subgroups ? 1 : 0,
  };
  const pipeline = await computePipeline(
    device,
    'layernorm',
    kernelSource('layernorm', { elementType: type, params: LAYERNORM_PARAMS, consts }),
  );
  return {
    pipeline,
    bindings: LAYERNORM_BINDINGS,
    params(rows, hidden, inRowStride, eps) {
      return LAYERNORM_PARAMS.pack({ rows, hidden, inRowStride, eps });
    },
    workgroups(rows) {
      // One workgroup per row, spread over x and y (the kernel returns past `rows`).
      return spread(device, rows);
    },
  };
}
