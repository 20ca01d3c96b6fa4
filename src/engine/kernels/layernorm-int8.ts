import { LAYERNORM_BINDINGS, LAYERNORM_THREADS } from './layernorm.js';
import { paramsLayout } from './params.js';
import { computePipeline, kernelSource, spread } from './source.js';

export const LAYERNORM_INT8_PARAMS = paramsLayout([
  { name: 'rows', type: 'u32' },
  { name: 'hidden', type: 'u32' },
  { name: 'eps', type: 'f32' },
  { name: 'invScale', type: 'f32' },
]);

/** LayerNorm writing packed int8 for the next GEMM (kernels/layernorm_int8.wgsl, INT8 mode 2). */
export interface LayerNormInt8Kernel {
  pipeline: GPUComputePipeline;
  bindings: typeof LAYERNORM_BINDINGS;
  /** LAYERNORM_INT8_PARAMS. */
  params(rows: number, hidden: number, eps: number, scale: number): ArrayBuffer;
  workgroups(rows: number): [number, number, number];
}

/** `hidden` (a multiple of 4) sizes the registers that hold a row, as in createLayerNormKernel. */
export async function createLayerNormInt8Kernel(
  device: GPUDevice,
  hidden: number,
  subgroups = device.features.has('subgroups'),
): Promise<LayerNormInt8Kernel> {
  const consts = {
    WG: LAYERNORM_THREADS,
    PER_THREAD: Math.ceil(hidden / 4 / LAYERNORM_THREADS),
    SUBGROUPS: subgroups ? 1 : 0,
  };
  const pipeline = await computePipeline(
    device,
    'layernorm-int8',
    kernelSource('layernorm_int8', { params: LAYERNORM_INT8_PARAMS, consts }),
  );
  return {
    pipeline,
    bindings: LAYERNORM_BINDINGS,
    params(rows, hidden, eps, scale) {
      return LAYERNORM_INT8_PARAMS.pack({ rows, hidden, eps, invScale: 1 / scale });
    },
    workgroups(rows) {
      return spread(device, rows);
    },
  };
}
