import { toHalfArray } from '../util/half.js';
import { BufferUsage } from './gpu.js';
import type { ElementType } from './kernels/source.js';
import type { Tensor, ViTWeights } from './types.js';

export interface GpuBlockWeights {
  ln1Scale: GPUBuffer;
  ln1Bias: GPUBuffer;
  qkvKernel: GPUBuffer;
  qkvBias: GPUBuffer;
  projKernel: GPUBuffer;
  projBias: GPUBuffer;
  ln2Scale: GPUBuffer;
  ln2Bias: GPUBuffer;
  fc1Kernel: GPUBuffer;
  fc1Bias: GPUBuffer;
  fc2Kernel: GPUBuffer;
  fc2Bias: GPUBuffer;
}

/** The weights outside the encoder blocks, the same in every engine (FP32/FP16, INT8). */
export interface GpuEdgeWeights {
  patchKernel: GPUBuffer;
  patchBias: GPUBuffer;
  cls: GPUBuffer;
  posEmbedding: GPUBuffer;
  normScale?: GPUBuffer;
  normBias?: GPUBuffer;
  headKernel: GPUBuffer;
  headBias: GPUBuffer;
}

/** Uploads the non-block tensors with the engine's own `upload` (which converts and tracks them). */
export function uploadEdgeWeights(
  w: ViTWeights,
  upload: (label: string, t: Tensor | undefined) => GPUBuffer,
): GpuEdgeWeights {
  return {
    patchKernel: upload('patchKernel', w.patchKernel),
    patchBias: upload('patchBias', w.patchBias),
    cls: upload('cls', w.cls),
    posEmbedding: upload('posEmbedding', w.posEmbedding),
    normScale: w.normScale && upload('normScale', w.normScale),
    normBias: w.normBias && upload('normBias', w.normBias),
    headKernel: upload('headKernel', w.headKernel),
    headBias: upload('headBias', w.headBias),
  };
}

export interface GpuWeights extends GpuEdgeWeights {
  blocks: GpuBlockWeights[];
  bytes: number;
  destroy(): void;
}

/**
 * Storage buffers filled at creation (mapped, no staging copy), counted and destroyed together:
 * what the FP and INT8 weight uploads share. Sizes round up to `align` bytes (storage bindings
 * need 4-byte multiples; an odd-length f16 tensor gets a zero pad).
 */
export function weightUploader(device: GPUDevice, align: number) {
  const created: GPUBuffer[] = [];
  let bytes = 0;
  return {
    put(label: string, data: ArrayBufferView): GPUBuffer {
      const size = Math.max(align, Math.ceil(data.byteLength / align) * align);
      const buffer = device.createBuffer({
        label,
        size,
        usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
        mappedAtCreation: true,
      });
      new Uint8Array(buffer.getMappedRange()).set(
        new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      );
      buffer.unmap();
      created.push(buffer);
      bytes += size;
      return buffer;
    },
    get bytes() {
      return bytes;
    },
    destroy() {
      for (const b of created) b.destroy();
    },
  };
}

/** Converts every tensor once to the storage type and uploads it; the CPU copies can then go. */
export function uploadWeights(device: GPUDevice, w: ViTWeights, type: ElementType): GpuWeights {
  const uploads = weightUploader(device, 4);
  const upload = (label: string, t: Tensor | undefined): GPUBuffer => {
    const src = t?.data ?? new Float32Array(1);
    return uploads.put(label, type === 'f16' ? toHalfArray(src) : src);
  };
  const blocks = w.blocks.map((b, i) => {
    const out = {} as GpuBlockWeights;
    for (const key of Object.keys(b) as (keyof GpuBlockWeights)[])
      out[key] = upload(`block${i}.${key}`, b[key]);
    return out;
  });
  return {
    ...uploadEdgeWeights(w, upload),
    blocks,
    get bytes() {
      return uploads.bytes;
    },
    destroy: () => uploads.destroy(),
  };
}
