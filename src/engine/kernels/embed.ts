import type { ViTConfig } from '../config.js';
import { vitDims } from '../config.js';
import { computePipeline, type ElementType, kernelSource, spread } from './source.js';

/** [class token | patch rows] + position embedding -> residual stream (kernels/embed.wgsl). */
export interface EmbedKernel {
  pipeline: GPUComputePipeline;
  /** Params struct (5 x u32, padded to 32 bytes). Bindings: params, patchOut, cls, pos, x. */
  params(count: number): ArrayBuffer;
  workgroups(count: number): [number, number, number];
}

export async function createEmbedKernel(
  device: GPUDevice,
  config: ViTConfig,
  type: ElementType,
): Promise<EmbedKernel> {
  const pipeline = await computePipeline(device, 'embed', kernelSource('embed', { elementType: type }));
  const { tokens, numPatches } = vitDims(config);
  return {
    pipeline,
    params(count) {
      const buf = new ArrayBuffer(32);
      new Uint32Array(buf).set([
        count,
        tokens,
        numPatches,
        config.hiddenSize,
        config.classifier === 'token' ? 1 : 0,
      ]);
      return buf;
    },
    workgroups(count) {
      return spread(Math.min(Math.ceil((count * tokens * config.hiddenSize) / 256), 65535 * 4));
    },
  };
}
