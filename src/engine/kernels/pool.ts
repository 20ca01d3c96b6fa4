import { computePipeline, type ElementType, kernelSource } from './source.js';

/** Class-token or mean pooling before the head (kernels/pool.wgsl). */
export interface PoolKernel {
  pipeline: GPUComputePipeline;
  /** Params struct {count, tokens, hidden, mean}. Bindings: params, x, pooled. */
  params(count: number, tokens: number, hidden: number, mean: boolean): ArrayBuffer;
  workgroups(count: number, hidden: number): [number, number, number];
}

export async function createPoolKernel(device: GPUDevice, type: ElementType): Promise<PoolKernel> {
  const pipeline = await computePipeline(device, 'pool', kernelSource('pool', { elementType: type }));
  return {
    pipeline,
    params: (count, tokens, hidden, mean) => new Uint32Array([count, tokens, hidden, mean ? 1 : 0]).buffer,
    workgroups: (count, hidden) => [Math.ceil((count * hidden) / 64), 1, 1],
  };
}
