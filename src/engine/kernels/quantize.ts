import { paramsLayout } from './params.js';
import { computePipeline, type ElementType, gridStride, kernelSource } from './source.js';

/** Bindings of both entry points: quantize uses src and dst, dequantize packed and unpacked. */
export const QUANTIZE_BINDINGS = ['params', 'src', 'dst', 'packed', 'unpacked'] as const;

export const QUANTIZE_PARAMS = paramsLayout([
  { name: 'count', type: 'u32', doc: 'elements; the last word is zero-padded' },
  { name: 'invScale', type: 'f32', doc: '1 / scale: quantize' },
  { name: 'scale', type: 'f32', doc: 'dequantize' },
]);

/** Per-tensor float <-> packed int8 conversion (kernels/quantize.wgsl). */
export interface QuantizeKernel {
  quantize: GPUComputePipeline;
  dequantize: GPUComputePipeline;
  bindings: typeof QUANTIZE_BINDINGS;
  /** QUANTIZE_PARAMS. */
  params(count: number, scale: number): ArrayBuffer;
  workgroups(count: number): [number, number, number];
}

export async function createQuantizeKernel(device: GPUDevice, type: ElementType): Promise<QuantizeKernel> {
  const code = kernelSource('quantize', { elementType: type, params: QUANTIZE_PARAMS });
  const [quantize, dequantize] = await Promise.all([
    computePipeline(device, `quantize-${type}`, code, 'quantize'),
    computePipeline(device, `dequantize-${type}`, code, 'dequantize'),
  ]);
  return {
    quantize,
    dequantize,
    bindings: QUANTIZE_BINDINGS,
    params(count, scale) {
      return QUANTIZE_PARAMS.pack({ count, invScale: 1 / scale, scale });
    },
    // One thread per word (quantize) or element (dequantize) would be ideal; a thread per four
    // elements for both is close enough, and the kernels grid-stride over the rest.
    workgroups: (count) => gridStride(device, Math.ceil(count / 4 / 256), 16),
  };
}
