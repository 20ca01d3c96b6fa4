import { EngineError } from '../../errors.js';
import { toHalfArray } from '../../util/half.js';
import type { ViTConfig } from '../config.js';
import { type GpuEdgeWeights, uploadEdgeWeights, weightUploader } from '../gpu-weights.js';
import type { Tensor, ViTWeights } from '../types.js';
import { channelScales, quantizeKernel } from './quant.js';
import { ATTENTION_INPUTS, INT8_ROLES, type Int8Role, type Int8Scales } from './scales.js';

/** One INT8 GEMM's weights: packed int8 kernel, per-channel scales and bias (f32). */
export interface Int8Linear {
  kernel: GPUBuffer;
  scale: GPUBuffer;
  bias: GPUBuffer;
}

export interface Int8BlockWeights extends Record<Int8Role, Int8Linear> {
  ln1Scale: GPUBuffer;
  ln1Bias: GPUBuffer;
  ln2Scale: GPUBuffer;
  ln2Bias: GPUBuffer;
}

/** Everything outside the INT8 GEMMs stays FP16, as the FP16 engine stores it. */
export interface Int8GpuWeights extends GpuEdgeWeights {
  blocks: Int8BlockWeights[];
  bytes: number;
  destroy(): void;
}

/**
 * Quantises the four GEMM kernels of each block per output channel (scales from the scales
 * file when it has them, else from the weights) into the [N, K] layout the INT8 GEMMs read,
 * and uploads everything once. With `int8Attention` (mode 2 with q, k, v ranges) the qkv GEMM
 * quantises its output for attention with one scale per part (q | k | v): its weight scales
 * and bias are uploaded divided by that part's scale, so that the epilogue's one output scale
 * is 1 (acc · aScale · wScale / s + bias / s = (acc · aScale · wScale + bias) / s).
 */
export function uploadInt8Weights(
  device: GPUDevice,
  config: ViTConfig,
  w: ViTWeights,
  scales: Int8Scales,
  int8Attention = false,
): Int8GpuWeights {
  if (int8Attention && !scales.attention)
    throw new EngineError('internal: int8 attention needs the q, k, v ranges of the scales file');
  const uploads = weightUploader(device, 16);
  const put = (label: string, data: ArrayBufferView) => uploads.put(label, data);
  const half = (label: string, t: Tensor | undefined) =>
    put(label, toHalfArray(t?.data ?? new Float32Array(4)));
  const D = config.hiddenSize;
  const F = config.mlpDim;
  const dims: Record<Int8Role, [number, number]> = {
    qkv: [D, 3 * D],
    proj: [D, D],
    fc1: [D, F],
    fc2: [F, D],
  };
  const blocks = w.blocks.map((b, i) => {
    const tensors: Record<Int8Role, [Tensor, Tensor]> = {
      qkv: [b.qkvKernel, b.qkvBias],
      proj: [b.projKernel, b.projBias],
      fc1: [b.fc1Kernel, b.fc1Bias],
      fc2: [b.fc2Kernel, b.fc2Bias],
    };
    const out = {
      ln1Scale: half(`block${i}.ln1Scale`, b.ln1Scale),
      ln1Bias: half(`block${i}.ln1Bias`, b.ln1Bias),
      ln2Scale: half(`block${i}.ln2Scale`, b.ln2Scale),
      ln2Bias: half(`block${i}.ln2Bias`, b.ln2Bias),
    } as Int8BlockWeights;
    for (const role of INT8_ROLES) {
      const [K, N] = dims[role];
      const [kernel, bias] = tensors[role];
      const stored = scales.weights?.[i]?.[role];
      const s = stored?.length === N ? Float32Array.from(stored) : channelScales(kernel.data, K, N);
      const kernelQ = quantizeKernel(kernel.data, K, N, s);
      const b32 = Float32Array.from(bias.data);
      if (role === 'qkv' && int8Attention) {
        const a = scales.attention![i];
        ATTENTION_INPUTS.forEach((part, j) => {
          for (let n = j * D; n < (j + 1) * D; n++) {
            s[n] /= a[part].scale;
            b32[n] /= a[part].scale;
          }
        });
      }
      out[role] = {
        kernel: put(`block${i}.${role}.int8`, kernelQ),
        scale: put(`block${i}.${role}.scale`, s),
        bias: put(`block${i}.${role}.bias`, b32),
      };
    }
    return out;
  });
  return {
    ...uploadEdgeWeights(w, half),
    blocks,
    get bytes() {
      return uploads.bytes;
    },
    destroy: () => uploads.destroy(),
  };
}
