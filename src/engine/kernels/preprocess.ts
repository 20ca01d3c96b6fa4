import type { ViTConfig } from '../config.js';
import { vitDims } from '../config.js';
import { computePipeline, type ElementType, kernelSource, spread } from './source.js';

/** uint8 RGB frames or float pixels -> the patch GEMM's A matrix [N * patches, P*P*3] (kernels/preprocess.wgsl). */
export interface PreprocessKernel {
  fromRgb: GPUComputePipeline;
  fromPixels: GPUComputePipeline;
  /** Params struct (48 bytes), the twin of `Params` in preprocess.wgsl. */
  params(count: number): ArrayBuffer;
  /** Bindings: params, rgb (u32 words), pixels (f32), patches (T). */
  workgroups(count: number): [number, number, number];
}

export async function createPreprocessKernel(
  device: GPUDevice,
  config: ViTConfig,
  type: ElementType,
): Promise<PreprocessKernel> {
  const code = kernelSource('preprocess', { elementType: type });
  const [fromRgb, fromPixels] = await Promise.all([
    computePipeline(device, 'preprocess', code, 'from_rgb'),
    computePipeline(device, 'preprocess', code, 'from_pixels'),
  ]);
  const { grid } = vitDims(config);
  return {
    fromRgb,
    fromPixels,
    params(count) {
      const buf = new ArrayBuffer(48);
      new Uint32Array(buf, 0, 4).set([count, config.imageSize, config.patchSize, grid]);
      new Float32Array(buf, 16, 8).set([...config.mean, 0, ...config.std.map((s) => 1 / s), 1]);
      return buf;
    },
    workgroups(count) {
      const elements = count * config.imageSize * config.imageSize * 3;
      // Enough workgroups to fill a big GPU; the kernel loops over the rest.
      return spread(Math.min(Math.ceil(elements / 256), 65535 * 4));
    },
  };
}
