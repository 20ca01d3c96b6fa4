import { computePipeline, kernelSource } from './source.js';

/** LayerNorm writing packed int8 for the next GEMM (kernels/layernorm_int8.wgsl, INT8 mode 2). */
export interface LayerNormInt8Kernel {
  pipeline: GPUComputePipeline;
  /** Params struct {rows, hidden: u32, eps, invScale: f32}. Bindings: params, x (f16), gamma, beta, y (u32). */
  params(rows: number, hidden: number, eps: number, scale: number): ArrayBuffer;
  workgroups(rows: number): [number, number, number];
}

export async function createLayerNormInt8Kernel(device: GPUDevice): Promise<LayerNormInt8Kernel> {
  const pipeline = await computePipeline(device, 'layernorm-int8', kernelSource('layernorm_int8'));
  return {
    pipeline,
    params(rows, hidden, eps, scale) {
      const buf = new ArrayBuffer(16);
      new Uint32Array(buf, 0, 2).set([rows, hidden]);
      new Float32Array(buf, 8, 2).set([eps, 1 / scale]);
      return buf;
    },
    workgroups(rows) {
      const x = Math.min(rows, 65535);
      return [x, Math.ceil(rows / x), 1];
    },
  };
}
