import { computePipeline, type ElementType, kernelSource } from './source.js';

/** Invocations per row (the kernels' WG). */
export const LAYERNORM_THREADS = 128;

/** Row-wise LayerNorm with f32 statistics (kernels/layernorm.wgsl). */
export interface LayerNormKernel {
  pipeline: GPUComputePipeline;
  /** Params struct {rows, hidden, inRowStride: u32, eps: f32}. Bindings: params, x, gamma, beta, y. */
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
  const consts = { PER_THREAD: Math.ceil(hidden / LAYERNORM_THREADS), SUBGROUPS: subgroups ? 1 : 0 };
  const pipeline = await computePipeline(
    device,
    'layernorm',
    kernelSource('layernorm', { elementType: type, consts }),
  );
  return {
    pipeline,
    params(rows, hidden, inRowStride, eps) {
      const buf = new ArrayBuffer(16);
      new Uint32Array(buf, 0, 3).set([rows, hidden, inRowStride]);
      new Float32Array(buf, 12, 1)[0] = eps;
      return buf;
    },
    workgroups(rows) {
      // One workgroup per row; rows beyond 65535 spill into y (the kernel returns past `rows`).
      const x = Math.min(rows, 65535);
      return [x, Math.ceil(rows / x), 1];
    },
  };
}
