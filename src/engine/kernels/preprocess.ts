import type { ViTConfig } from '../config.js';
import { vitDims } from '../config.js';
import { paramsLayout } from './params.js';
import { computePipeline, type ElementType, gridStride, kernelSource } from './source.js';

/** Bindings of both entry points: from_rgb uses rgb, from_pixels pixels. */
export const PREPROCESS_BINDINGS = ['params', 'rgb', 'pixels', 'patches'] as const;

export const PREPROCESS_PARAMS = paramsLayout([
  { name: 'count', type: 'u32', doc: 'images in the batch' },
  { name: 'imageSize', type: 'u32', doc: 'S' },
  { name: 'patchSize', type: 'u32', doc: 'P' },
  { name: 'grid', type: 'u32', doc: 'S / P' },
  { name: 'mean', type: 'vec4<f32>' },
  { name: 'invStd', type: 'vec4<f32>' },
]);

/** uint8 RGB frames or float pixels -> the patch GEMM's A matrix [N * patches, P*P*3] (kernels/preprocess.wgsl). */
export interface PreprocessKernel {
  fromRgb: GPUComputePipeline;
  fromPixels: GPUComputePipeline;
  bindings: typeof PREPROCESS_BINDINGS;
  /** PREPROCESS_PARAMS. */
  params(count: number): ArrayBuffer;
  /** Bindings: params, rgb (u32 words), pixels (f32), patches (T). */
  workgroups(count: number): [number, number, number];
}

export async function createPreprocessKernel(
  device: GPUDevice,
  config: ViTConfig,
  type: ElementType,
): Promise<PreprocessKernel> {
  const code = kernelSource('preprocess', { elementType: type, params: PREPROCESS_PARAMS });
  const [fromRgb, fromPixels] = await Promise.all([
    computePipeline(device, 'preprocess', code, 'from_rgb'),
    computePipeline(device, 'preprocess', code, 'from_pixels'),
  ]);
  const { grid } = vitDims(config);
  return {
    fromRgb,
    fromPixels,
    bindings: PREPROCESS_BINDINGS,
    params(count) {
      return PREPROCESS_PARAMS.pack({
        count,
        imageSize: config.imageSize,
        patchSize: config.patchSize,
        grid,
        mean: [...config.mean, 0],
        invStd: [...config.std.map((s) => 1 / s), 1],
      });
    },
    workgroups(count) {
      const elements = count * config.imageSize * config.imageSize * 3;
      // Enough workgroups to fill a big GPU; the kernel loops over the rest.
      return gridStride(device, Math.ceil(elements / 256));
    },
  };
}
