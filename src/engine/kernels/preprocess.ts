import type { ViTConfig } from '../config.js';
import { vitDims } from '../config.js';
import { DEFAULT_YUV_COLOR, type InputFormat } from '../types.js';
import { yuvCoefficients } from '../yuv.js';
import { paramsLayout } from './params.js';
import { computePipeline, type ElementType, gridStride, kernelSource } from './source.js';

/** Bindings of the entry points: from_rgb uses rgb, from_pixels pixels, from_yuv yuv. */
export const PREPROCESS_BINDINGS = ['params', 'rgb', 'pixels', 'patches', 'yuv'] as const;

export const PREPROCESS_PARAMS = paramsLayout([
  { name: 'count', type: 'u32', doc: 'images in the batch' },
  { name: 'imageSize', type: 'u32', doc: 'S' },
  { name: 'patchSize', type: 'u32', doc: 'P' },
  { name: 'grid', type: 'u32', doc: 'S / P' },
  { name: 'mean', type: 'vec4<f32>' },
  { name: 'invStd', type: 'vec4<f32>' },
  { name: 'yuvScale', type: 'vec4<f32>', doc: 'from_yuv: Y offset, Y scale, chroma scale' },
  { name: 'yuvMatrix', type: 'vec4<f32>', doc: 'from_yuv: R from V, G from U, G from V, B from U' },
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
  /** PREPROCESS_PARAMS; `format` sets the YUV layout and colour (ignored by the other entry points). */
  params(count: number, format?: InputFormat): ArrayBuffer;
  /** Bindings: params, rgb (u32 words), pixels (f32), patches (T), yuv (u32 words). */
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
      const k = yuvCoefficients(
        format.kind === 'nv12' || format.kind === 'yuv420p' ? format.color : DEFAULT_YUV_COLOR,
      );
      return PREPROCESS_PARAMS.pack({
        count,
        imageSize: config.imageSize,
        patchSize: config.patchSize,
        grid,
        mean: [...config.mean, 0],
        invStd: [...config.std.map((s) => 1 / s), 1],
        yuvScale: [k.yOffset, k.yScale, k.cScale, 0],
        yuvMatrix: [k.rV, k.gU, k.gV, k.bU],
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
