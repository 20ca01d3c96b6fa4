import type { ViTConfig } from '../config.js';
import { vitDims } from '../config.js';
import { computePipeline, kernelSource, type ElementType } from './source.js';

/** Fused multi-head attention over the packed qkv matrix (kernels/attention.wgsl). */
export interface AttentionKernel {
  pipeline: GPUComputePipeline;
  /** Params struct {count, tokens, hidden: u32, scale: f32}. Bindings: params, qkv, out. */
  params(count: number): ArrayBuffer;
  workgroups(count: number): [number, number, number];
}

const QUERIES_PER_WORKGROUP = 64;

export async function createAttentionKernel(device: GPUDevice, config: ViTConfig, type: ElementType): Promise<AttentionKernel> {
  const { tokens, headDim } = vitDims(config);
  const code = kernelSource('attention', { elementType: type, consts: { HEAD_DIM: headDim } });
  const pipeline = await computePipeline(device, 'attention', code);
  return {
    pipeline,
    params(count) {
      const buf = new ArrayBuffer(16);
      new Uint32Array(buf, 0, 3).set([count, tokens, config.hiddenSize]);
      new Float32Array(buf, 12, 1)[0] = 1 / Math.sqrt(headDim);
      return buf;
    },
    workgroups: (count) => [Math.ceil(tokens / QUERIES_PER_WORKGROUP), config.numHeads, count],
  };
}
