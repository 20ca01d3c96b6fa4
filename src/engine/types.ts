import type { ViTConfig } from './config.js';

/** A dense float32 tensor, row-major. */
export interface Tensor {
  data: Float32Array;
  shape: number[];
}

/**
 * Weights in the engine's canonical layout, whatever file they came from. Matrices are
 * [in, out] (x · W), so a GEMM reads them without transposing.
 * - patchKernel [P*P*3, D]: rows ordered (py, px, channel), the order of an RGB frame's bytes
 *   inside one patch (Google's HWIO kernel reshaped; timm's OIHW is permuted to it).
 * - qkvKernel [D, 3D]: columns = q (head 0..H-1, each hd wide), then k, then v.
 */
export interface BlockWeights {
  ln1Scale: Tensor;
  ln1Bias: Tensor;
  qkvKernel: Tensor;
  qkvBias: Tensor;
  projKernel: Tensor;
  projBias: Tensor;
  ln2Scale: Tensor;
  ln2Bias: Tensor;
  fc1Kernel: Tensor;
  fc1Bias: Tensor;
  fc2Kernel: Tensor;
  fc2Bias: Tensor;
}

export interface ViTWeights {
  patchKernel: Tensor;
  patchBias: Tensor;
  /** [D]; absent when the classifier is `gap`. */
  cls?: Tensor;
  /** [T, D] */
  posEmbedding: Tensor;
  blocks: BlockWeights[];
  /** [D]; absent when the config has no final norm. */
  normScale?: Tensor;
  normBias?: Tensor;
  headKernel: Tensor;
  headBias: Tensor;
}

export const PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];
export const BACKENDS = ['webgpu', 'cpu'] as const;
export type Backend = (typeof BACKENDS)[number];

/**
 * What a batch is made of: uint8 RGB frames [N, S, S, 3] at the model's size (normalised on the
 * device), or float32 pixel values [N, 3, S, S] already normalised.
 */
export type EngineInput =
  | { kind: 'rgb'; data: Uint8Array; count: number }
  | { kind: 'pixels'; data: Float32Array; count: number };

export interface Engine {
  readonly config: ViTConfig;
  readonly backend: Backend;
  readonly precision: Precision;
  readonly maxBatch: number;
  /** Logits [count, numClasses]. Calls may overlap; they are queued and pipelined. */
  infer(input: EngineInput): Promise<Float32Array>;
  /** GPU engines: GPU time of the forward pass alone, ms (undefined without timestamp queries). */
  forwardGpuMs?(input: EngineInput, runs?: number): Promise<number | undefined>;
  close(): Promise<void>;
}
