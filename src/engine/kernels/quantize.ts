import { computePipeline, type ElementType, kernelSource, spread } from './source.js';

/** Per-tensor float <-> packed int8 conversion (kernels/quantize.wgsl). */
export interface QuantizeKernel {
  /** Bindings: params, src (T), dst (u32 words). */
  quantize: GPUComputePipeline;
  /** Bindings: params, -, -, packed (u32 words), unpacked (T). */
  dequantize: GPUComputePipeline;
  /** Params struct {count: u32, _pad: u32, invScale: f32, scale: f32}. */
  params(count: number, scale: number): ArrayBuffer;
  workgroups(count: number): [number, number, number];
}

export async function createQuantizeKernel(device: GPUDevice, type: ElementType): Promise<QuantizeKernel> {
  const code = kernelSource('quantize', { elementType: type });
  const [quantize, dequantize] = await Promise.all([
    computePipeline(device, `quantize-${type}`, code, 'quantize'),
    computePipeline(device, `dequantize-${type}`, code, 'dequantize'),
  ]);
  return {
    quantize,
    dequantize,
    params(count, scale) {
      const buf = new ArrayBuffer(16);
      new Uint32Array(buf, 0, 1)[0] = count;
      new Float32Array(buf, 8, 2).set([1 / scale, scale]);
      return buf;
    },
    // One thread per word (quantize) or element (dequantize) would be ideal; a thread per four
    // elements for both is close enough, and the kernels grid-stride over the rest.
    workgroups: (count) => spread(Math.max(1, Math.min(Math.ceil(count / 4 / 256), 65535 * 16))),
  };
}
