import { LAYERNORM_THREADS } from './layernorm.js';
import { computePipeline, kernelSource } from './source.js';

/** LayerNorm writing packed int8 for the next GEMM (kernels/layernorm_int8.wgsl, INT8 mode 2). */
export interface LayerNormInt8Kernel {
  pipeline: GPUComputePipeline;
  /** Params struct {rows, hidden: u32, eps, invScale: f32}. Bindings: params, x (f16), gamma, beta, y (u32). */
  params(rows: number, hidden: number, eps: number, scale: number): ArrayBuffer;
  workgroups(rows: number): [number, number, number];
}

/** `hidden` (a multiple of 4) sizes the registers that hold a row, as in createLayerNormKernel. */
export async function createLayerNormInt8Kernel(
  device: GPUDevice,
  hidden: number,
  subgroups = device.features.has('subgroups'),
): Promise<LayerNormInt8Kernel> {
  const consts = { PER_THREAD: Math.ceil(hidden / 4 / LAYERNORM_THREADS), SUBGROUPS: subgroups ? 1 : 0 };
  const pipeline = await computePipeline(
    device,
    'layernorm-int8',
    kernelSource('layernorm_int8', { consts }),
  );
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
