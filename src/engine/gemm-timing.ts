import { BufferUsage } from './gpu.js';
import { type AttentionShape, type AttentionVariant, createAttentionKernel } from './kernels/attention.js';
import { createGemmKernel, type Epilogue, type GemmVariant } from './kernels/gemm.js';
import { bindGroup, type ElementType } from './kernels/source.js';

/**
 * Milliseconds per dispatch of one kernel: `iterations` dispatches in one command buffer after a
 * warm-up submit, wall clock to queue completion (one submit amortises the CPU round trip).
 */
export async function timeDispatches(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  group: GPUBindGroup,
  workgroups: [number, number, number],
  iterations: number,
): Promise<number> {
  const run = async (n: number) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    for (let i = 0; i < n; i++) pass.dispatchWorkgroups(...workgroups);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await run(2);
  const t0 = performance.now();
  await run(iterations);
  return (performance.now() - t0) / iterations;
}

export interface GemmTiming {
  ms: number;
  tflops: number;
}

/**
 * Times one GEMM shape with one kernel variant on the device: `iterations` dispatches in one
 * command buffer (after a warm-up submit), wall clock to queue completion. Buffers hold
 * arbitrary bytes: the timing does not depend on values, and tuning must not cost an upload.
 */
export async function timeGemm(
  device: GPUDevice,
  variant: GemmVariant,
  type: ElementType,
  shape: { M: number; N: number; K: number; epilogue?: Epilogue },
  iterations = 20,
): Promise<GemmTiming> {
  const { M, N, K } = shape;
  const el = type === 'f16' ? 2 : 4;
  const kernel = await createGemmKernel(device, type, shape.epilogue ?? 'bias', variant);
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST;
  const buf = (elements: number) =>
    device.createBuffer({ size: Math.ceil((elements * el) / 16) * 16, usage: storage });
  const params = device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
  device.queue.writeBuffer(params, 0, kernel.params(M, N, K));
  const a = buf(M * K);
  const b = buf(K * N);
  const bias = buf(N);
  const c = buf(M * N);
  // Zeros rather than garbage: garbage f16 bits can be NaN/Inf, which some GPUs process slower.
  const group = bindGroup(device, 'time-gemm', kernel.pipeline, [params, a, b, bias, c]);
  const ms = await timeDispatches(device, kernel.pipeline, group, kernel.workgroups(M, N), iterations);
  for (const x of [params, a, b, bias, c]) x.destroy();
  return { ms, tflops: (2 * M * N * K) / (ms * 1e-3) / 1e12 };
}

/**
 * Times one attention kernel (all heads of `count` images) the way timeGemm times a GEMM:
 * `iterations` dispatches in one command buffer after a warm-up, wall clock to completion.
 */
export async function timeAttention(
  device: GPUDevice,
  variant: AttentionVariant,
  type: ElementType,
  shape: AttentionShape & { count: number },
  iterations = 20,
): Promise<GemmTiming> {
  const { count, tokens, numHeads, headDim } = shape;
  const D = numHeads * headDim;
  const el = type === 'f16' ? 2 : 4;
  const kernel = await createAttentionKernel(device, shape, type, variant);
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST;
  const params = device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
  device.queue.writeBuffer(params, 0, kernel.params(count));
  const qkv = device.createBuffer({
    size: Math.ceil((count * tokens * 3 * D * el) / 16) * 16,
    usage: storage,
  });
  const out = device.createBuffer({ size: Math.ceil((count * tokens * D * el) / 16) * 16, usage: storage });
  const group = bindGroup(device, 'time-attention', kernel.pipeline, [params, qkv, out]);
  const ms = await timeDispatches(device, kernel.pipeline, group, kernel.workgroups(count), iterations);
  for (const x of [params, qkv, out]) x.destroy();
  return { ms, tflops: (4 * count * numHeads * tokens * tokens * headDim) / (ms * 1e-3) / 1e12 };
}
