import { paramsLayout } from './params.js';
import { computePipeline, type ElementType, kernelSource } from './source.js';

export const POOL_BINDINGS = ['params', 'x', 'pooled'] as const;

export const POOL_PARAMS = paramsLayout([
  { name: 'count', type: 'u32' },
  { name: 'tokens', type: 'u32' },
  { name: 'hidden', type: 'u32' },
  { name: 'mean', type: 'u32', doc: '1: average all tokens; 0: take token 0' },
]);

/** Class-token or mean pooling before the head (kernels/pool.wgsl). */
export interface PoolKernel {
  pipeline: GPUComputePipeline;
  bindings: typeof POOL_BINDINGS;
  /** POOL_PARAMS. */
  params(count: number, tokens: number, hidden: number, mean: boolean): ArrayBuffer;
  workgroups(count: number, hidden: number): [number, number, number];
}

export async function createPoolKernel(device: GPUDevice, type: ElementType): Promise<PoolKernel> {
  const pipeline = await computePipeline(
    device,
    'pool',
    kernelSource('pool', { elementType: type, params: POOL_PARAMS }),
  );
  return {
    pipeline,
    bindings: POOL_BINDINGS,
    params: (count, tokens, hidden, mean) => POOL_PARAMS.pack({ count, tokens, hidden, mean: mean ? 1 : 0 }),
    workgroups: (count, hidden) => [Math.ceil((count * hidden) / 64), 1, 1],
  };
}
