import type { ViTConfig } from '../config.js';
import { vitDims } from '../config.js';
import { paramsLayout } from './params.js';
import { computePipeline, type ElementType, gridStride, kernelSource } from './source.js';

export const EMBED_BINDINGS = ['params', 'patchOut', 'cls', 'pos', 'x'] as const;

export const EMBED_PARAMS = paramsLayout([
  { name: 'count', type: 'u32' },
  { name: 'tokens', type: 'u32', doc: 'T' },
  { name: 'numPatches', type: 'u32' },
  { name: 'hidden', type: 'u32', doc: 'D' },
  { name: 'hasClassToken', type: 'u32' },
]);

/** [class token | patch rows] + position embedding -> residual stream (kernels/embed.wgsl). */
export interface EmbedKernel {
  pipeline: GPUComputePipeline;
  bindings: typeof EMBED_BINDINGS;
  /** EMBED_PARAMS. */
  params(count: number): ArrayBuffer;
  workgroups(count: number): [number, number, number];
}

export async function createEmbedKernel(
  device: GPUDevice,
  config: ViTConfig,
  type: ElementType,
): Promise<EmbedKernel> {
  const pipeline = await computePipeline(
    device,
    'embed',
    kernelSource('embed', { elementType: type, params: EMBED_PARAMS }),
  );
  const { tokens, numPatches } = vitDims(config);
  return {
    pipeline,
    bindings: EMBED_BINDINGS,
    params(count) {
      return EMBED_PARAMS.pack({
        count,
        tokens,
        numPatches,
        hidden: config.hiddenSize,
        hasClassToken: config.classifier === 'token' ? 1 : 0,
      });
    },
    workgroups(count) {
      return gridStride(device, Math.ceil((count * tokens * config.hiddenSize) / 256));
    },
  };
}
