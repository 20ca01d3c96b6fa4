import type { ViTConfig } from '../config.js';
import { vitDims } from '../config.js';
import type { InputFormat, YuvColor } from '../types.js';
import { yuvCoefficients } from '../yuv.js';
import { paramsLayout } from './params.js';
import { computePipeline, type ElementType, gridStride, kernelSource } from './source.js';

/** Bindings of the entry points: from_rgb uses rgb, from_pixels pixels, from_yuv yuv and colors. */
export const PREPROCESS_BINDINGS = ['params', 'rgb', 'pixels', 'patches', 'yuv', 'colors'] as const;

/** Bytes of `colors` per frame: two vec4<f32>. */
export const YUV_COLOR_BYTES = 32;

/** from_yuv's `colors` for a batch: each frame's coefficients (yuv.ts), as the kernel reads them. */
export function packYuvColors(colors: readonly YuvColor[]): Float32Array {
  const out = new Float32Array((colors.length * YUV_COLOR_BYTES) / 4);
  colors.forEach((color, i) => {
    const k = yuvCoefficients(color);
    out.set([k.yOffset, k.yScale, k.cScale, 0, k.rV, k.gU, k.gV, k.bU], i * 8);
  });
  return out;
}

export const PREPROCESS_PARAMS = paramsLayout([
  { name: 'count', type: 'u32', doc: 'images in the batch' },
  { name: 'imageSize', type: 'u32', doc: 'S' },
  { name: 'patchSize', type: 'u32', doc: 'P' },
  { name: 'grid', type: 'u32', doc: 'S / P' },
  { name: 'mean', type: 'vec4<f32>' },
  { name: 'invStd', type: 'vec4<f32>' },
  { name: 'interleaved', type: 'u32', doc: 'from_yuv: 1 for NV12 (UV pairs), 0 for yuv420p (U, V planes)' },
]);

/**
 * uint8 RGB frames, float pixels or YUV 4:2:0 frames -> the patch GEMM's A matrix
 * [N * patches, P*P*3] (kernels/preprocess.wgsl).
 */
export interface PreprocessKernel {
  fromRgb: GPUComputePipeline;
  fromPixels: GPUComputePipeline;
  fromYuv: GPUComputePipeline;
  bindings: typeof PREPROCESS_BINDINGS;
  /** PREPROCESS_PARAMS; `format` sets the YUV layout (ignored by the other entry points). */
  params(count: number, format?: InputFormat): ArrayBuffer;
  /** Bindings: params, rgb (u32 words), pixels (f32), patches (T), yuv (u32 words), colors (packYuvColors). */
  workgroups(count: number): [number, number, number];
}

export async function createPreprocessKernel(
  device: GPUDevice,
  config: ViTConfig,
  type: ElementType,
): Promise<PreprocessKernel> {
  const code = kernelSource('preprocess', { elementType: type, params: PREPROCESS_PARAMS });
  const [fromRgb, fromPixels, fromYuv] = await Promise.all([
    computePipeline(device, 'preprocess', code, 'from_rgb'),
    computePipeline(device, 'preprocess', code, 'from_pixels'),
    computePipeline(device, 'preprocess', code, 'from_yuv'),
  ]);
  const { grid } = vitDims(config);
  return {
    fromRgb,
    fromPixels,
    fromYuv,
    bindings: PREPROCESS_BINDINGS,
    params(count, format = { kind: 'rgb' }) {
      return PREPROCESS_PARAMS.pack({
        count,
        imageSize: config.imageSize,
        patchSize: config.patchSize,
        grid,
        mean: [...config.mean, 0],
        invStd: [...config.std.map((s) => 1 / s), 1],
        interleaved: format.kind === 'nv12' ? 1 : 0,
      });
    },
    workgroups(count) {
      const elements = count * config.imageSize * config.imageSize * 3;
      // Enough workgroups to fill a big GPU; the kernel loops over the rest.
      return gridStride(device, Math.ceil(elements / 256));
    },
  };
}
