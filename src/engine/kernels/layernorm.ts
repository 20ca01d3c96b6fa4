import { computePipeline, type ElementType, kernelSource } from './source.js';

/** Row-wise LayerNorm with f32 statistics (kernels/layernorm.wgsl). */
export interface LayerNormKernel {
  pipeline: GPUComputePipeline;
  /** Params struct {rows, hidden, inRowStride: u32, eps: f32}. Bindings: params, x, gamma, beta, y. */
  params(rows: number, hidden: number, inRowStride: number, eps: number): ArrayBuffer;
  workgroups(rows: number): [number, number, number];
}

export async function createLayerNormKernel(device: GPUDevice, type: ElementType): Promise<LayerNormKernel> {
  const pipeline = await computePipeline(
    device,
    'layernorm',
    kernelSource('layernorm', { elementType: type }),
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
