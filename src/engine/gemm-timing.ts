import { EngineError } from '../errors.js';
import { fromHalfArray, toHalfArray } from '../util/half.js';
import { encodeDispatches, PlanRecorder } from './forward-plan.js';
import { BufferUsage, MapMode } from './gpu.js';
import {
  type AttentionDesign,
  type AttentionIO,
  type AttentionShape,
  type AttentionVariant,
  createAttentionKernel,
} from './kernels/attention.js';
import {
  createGemmKernel,
  type Epilogue,
  type GemmKernel,
  type GemmVariant,
  variantKey,
} from './kernels/gemm.js';
import { bindGroup, type Dispatch, type ElementType } from './kernels/source.js';

/**
 * Fills a buffer with random values in [-1, 1) of `type` (i8: random bytes) by repeating one
 * block. Not zeros: kernels timed on zeros can read faster than on real activations (zero pages
 * compress in GPU memory), and not raw garbage, whose f16 bits can be NaN or Inf.
 */
export function fillNoise(device: GPUDevice, buffer: GPUBuffer, type: ElementType | 'i8'): void {
  const block = noiseBlock(type);
  for (let o = 0; o < buffer.size; o += block.byteLength)
    device.queue.writeBuffer(buffer, o, block.buffer, 0, Math.min(block.byteLength, buffer.size - o));
}

const NOISE_BYTES = 1 << 22;
/** One constant block per type, computed on first use (a memo of a pure function, never mutated). */
const noiseBlocks = new Map<string, Uint8Array>();
function noiseBlock(type: ElementType | 'i8'): Uint8Array {
  let block = noiseBlocks.get(type);
  if (!block) {
    // A fixed LCG: the same values in every run, so timings do not depend on the seed.
    const values = new Float32Array(NOISE_BYTES / (type === 'f32' ? 4 : type === 'f16' ? 2 : 1));
    let s = 12345;
    for (let i = 0; i < values.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      values[i] = s / 2 ** 31 - 1;
    }
    const typed =
      type === 'f32'
        ? values
        : type === 'f16'
          ? toHalfArray(values)
          : Int8Array.from(values, (v) => Math.round(v * 127));
    block = new Uint8Array(typed.buffer);
    noiseBlocks.set(type, block);
  }
  return block;
}

/** Busy time before each kernel timing (see timeDispatchList). */
const WARMUP_MS = 150;

/**
 * Milliseconds per dispatch of one kernel: `iterations` dispatches in one command buffer after a
 * warm-up of WARMUP_MS, wall clock to queue completion (one submit amortises the CPU round trip),
 * median of three such runs.
 */
export async function timeDispatches(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  group: GPUBindGroup,
  workgroups: [number, number, number],
  iterations: number,
): Promise<number> {
  return timeDispatchList(device, [{ label: '', pipeline, bindGroup: group, workgroups }], iterations);
}

/** Milliseconds per run of a list of dispatches (e.g. split-K's two passes), as timeDispatches. */
export async function timeDispatchList(
  device: GPUDevice,
  dispatches: Dispatch[],
  iterations: number,
): Promise<number> {
  const run = async (n: number) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let i = 0; i < n; i++) encodeDispatches(pass, dispatches);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  // Warm-up by time, not by count: an H100 that has idled a moment runs at a fraction of its clock
  // until it has been busy for a while (one attention kernel read 3.04 ms after a 2-run warm-up and
  // 0.73 ms warm, by GPU timestamps), which made single timings up to 4x off.
  const warmUntil = performance.now() + WARMUP_MS;
  do await run(Math.max(2, Math.ceil(iterations / 4)));
  while (performance.now() < warmUntil);
  // Median of three timed runs: single wall-clock runs on the H100 varied up to 2x (clock
  // ramp-up, other work on the queue), enough to make the tuner keep a slow tile.
  const samples: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await run(iterations);
    samples.push((performance.now() - t0) / iterations);
  }
  return samples.sort((a, b) => a - b)[1];
}

export interface GemmTiming {
  ms: number;
  tflops: number;
}

/**
 * Times one GEMM shape with one kernel variant on the device: `iterations` dispatches in one
 * command buffer (after a warm-up), wall clock to queue completion. Buffers hold small random
 * values (see fillNoise).
 * Split-K variants are timed with their reduce pass, as the forward pass runs them. A
 * validation or out-of-memory error (e.g. a workspace over the adapter's limits) throws rather
 * than timing commands the GPU skipped.
 */
export async function timeGemm(
  device: GPUDevice,
  variant: GemmVariant,
  type: ElementType,
  shape: { M: number; N: number; K: number; epilogue?: Epilogue },
  iterations = 20,
): Promise<GemmTiming> {
  const { M, N, K } = shape;
  const kernel = await createGemmKernel(device, type, shape.epilogue ?? 'bias', variant);
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  const gemm = noiseGemm(device, kernel, type, M, N, K);
  const ms = await timeDispatchList(device, gemm.dispatches, iterations);
  const oom = await device.popErrorScope();
  const invalid = await device.popErrorScope();
  gemm.destroy();
  if (oom || invalid)
    throw new EngineError(
      `timing GEMM ${variantKey(variant)} at ${M}x${N}x${K} failed: ${(oom ?? invalid)!.message}`,
    );
  return { ms, tflops: (2 * M * N * K) / (ms * 1e-3) / 1e12 };
}

/** A GEMM's buffers filled with fillNoise (C too: the residual epilogue reads it) and its dispatches. */
function noiseGemm(
  device: GPUDevice,
  kernel: GemmKernel,
  type: ElementType,
  M: number,
  N: number,
  K: number,
) {
  const el = type === 'f16' ? 2 : 4;
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const buf = (elements: number, bytes = el) =>
    device.createBuffer({ size: Math.max(16, Math.ceil((elements * bytes) / 16) * 16), usage: storage });
  const packed = kernel.params(M, N, K);
  const params = device.createBuffer({
    size: packed.byteLength,
    usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(params, 0, packed);
  const buffers = { params, a: buf(M * K), b: buf(K * N), bias: buf(N), c: buf(M * N) };
  for (const x of [buffers.a, buffers.b, buffers.bias, buffers.c]) fillNoise(device, x, type);
  const ws = kernel.workspaceBytes(M, N);
  const workspace = ws > 0 ? buf(ws, 1) : undefined;
  const rec = new PlanRecorder(device);
  kernel.record(rec, 'time-gemm', { ...buffers, workspace }, M, N);
  return {
    dispatches: rec.dispatches,
    c: buffers.c,
    destroy: () => {
      for (const x of [...Object.values(buffers), workspace]) x?.destroy();
    },
  };
}

/** C after one run of a GEMM variant on fillNoise's inputs, as f32. */
async function gemmOutput(
  device: GPUDevice,
  variant: GemmVariant,
  type: ElementType,
  shape: { M: number; N: number; K: number; epilogue?: Epilogue },
): Promise<Float32Array> {
  const { M, N, K } = shape;
  const kernel = await createGemmKernel(device, type, shape.epilogue ?? 'bias', variant);
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  const gemm = noiseGemm(device, kernel, type, M, N, K);
  const bytes = M * N * (type === 'f16' ? 2 : 4);
  const readback = device.createBuffer({
    size: Math.ceil(bytes / 16) * 16,
    usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  encodeDispatches(pass, gemm.dispatches);
  pass.end();
  enc.copyBufferToBuffer(gemm.c, 0, readback, 0, readback.size);
  device.queue.submit([enc.finish()]);
  const oom = await device.popErrorScope();
  const invalid = await device.popErrorScope();
  if (oom || invalid) {
    gemm.destroy();
    readback.destroy();
    throw new EngineError(
      `running GEMM ${variantKey(variant)} at ${M}x${N}x${K} failed: ${(oom ?? invalid)!.message}`,
    );
  }
  await readback.mapAsync(MapMode.READ);
  const raw = readback.getMappedRange(0, bytes).slice(0);
  readback.destroy();
  gemm.destroy();
  return type === 'f16' ? fromHalfArray(new Uint16Array(raw)) : new Float32Array(raw);
}

/**
 * How far a variant's output lies from a reference variant's on the same inputs (fillNoise's):
 * the largest |C - C_ref| and the largest |C_ref|. Variants that only reorder the same f32
 * arithmetic (-e, -p) give 0; f16 accumulators (-h) give what they cost.
 */
export async function compareGemm(
  device: GPUDevice,
  variant: GemmVariant,
  reference: GemmVariant,
  type: ElementType,
  shape: { M: number; N: number; K: number; epilogue?: Epilogue },
): Promise<{ maxAbsDiff: number; maxAbs: number }> {
  const ref = await gemmOutput(device, reference, type, shape);
  const got = await gemmOutput(device, variant, type, shape);
  let maxAbsDiff = 0;
  let maxAbs = 0;
  let nan = false;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (Number.isNaN(d)) nan = true;
    else if (d > maxAbsDiff) maxAbsDiff = d;
    maxAbs = Math.max(maxAbs, Math.abs(ref[i]));
  }
  // A NaN in either output shows as NaN rather than vanishing from the maximum.
  return { maxAbsDiff: nan ? Number.NaN : maxAbsDiff, maxAbs };
}

/**
 * Times one attention kernel (all heads of `count` images) the way timeGemm times a GEMM:
 * `iterations` dispatches in one command buffer after a warm-up, wall clock to completion.
 * `design`: the tensor-core kernel's issue-#23 options (createAttentionKernel).
 */
export async function timeAttention(
  device: GPUDevice,
  variant: AttentionVariant,
  type: ElementType,
  shape: AttentionShape & { count: number },
  iterations = 20,
  io: AttentionIO = 'float',
  design: AttentionDesign = {},
): Promise<GemmTiming> {
  const { count, tokens, numHeads, headDim } = shape;
  const D = numHeads * headDim;
  const int8 = io === 'int8';
  const el = int8 ? 1 : type === 'f16' ? 2 : 4;
  const kernel = await createAttentionKernel(device, shape, type, variant, io, design);
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST;
  // int8: noise bytes of +-127 with scales that keep scores at a few units, as calibrated ones do.
  const packed = kernel.params(count, int8 ? { q: 0.02, k: 0.02, v: 0.02, out: 0.02 } : undefined);
  const params = device.createBuffer({
    size: packed.byteLength,
    usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(params, 0, packed);
  const qkv = device.createBuffer({
    size: Math.ceil((count * tokens * 3 * D * el) / 16) * 16,
    usage: storage,
  });
  fillNoise(device, qkv, int8 ? 'i8' : type);
  const out = device.createBuffer({ size: Math.ceil((count * tokens * D * el) / 16) * 16, usage: storage });
  const group = bindGroup(device, 'time-attention', kernel.pipeline, kernel.bindings, { params, qkv, out });
  const ms = await timeDispatches(device, kernel.pipeline, group, kernel.workgroups(count), iterations);
  for (const x of [params, qkv, out]) x.destroy();
  return { ms, tflops: (4 * count * numHeads * tokens * tokens * headDim) / (ms * 1e-3) / 1e12 };
}
