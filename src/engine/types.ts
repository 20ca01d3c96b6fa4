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

export const YUV_MATRICES = ['bt601', 'bt709'] as const;
export const YUV_RANGES = ['limited', 'full'] as const;
/**
 * How a YUV frame's bytes map to RGB: the matrix (BT.601 for SD, BT.709 for HD) and the range
 * (limited: Y 16-235, chroma 16-240; full: 0-255), as ffprobe reports them for the stream.
 */
export interface YuvColor {
  matrix: (typeof YUV_MATRICES)[number];
  range: (typeof YUV_RANGES)[number];
}
/** What SD video most often is, and what a YUV input without `color` is taken to be. */
export const DEFAULT_YUV_COLOR: Readonly<YuvColor> = { matrix: 'bt601', range: 'limited' };

/** uint8 frame layouts the engine takes at the model's size, normalised on the device. */
export const FRAME_KINDS = ['rgb', 'nv12', 'yuv420p'] as const;
export type FrameKind = (typeof FRAME_KINDS)[number];
export type YuvKind = Exclude<FrameKind, 'rgb'>;

/**
 * What a batch is made of: uint8 RGB frames [N, S, S, 3] at the model's size (normalised on the
 * device), float32 pixel values [N, 3, S, S] already normalised, or uint8 YUV 4:2:0 frames at the
 * model's size, each a Y plane (S x S) then its chroma at half resolution (ceil(S/2) squared):
 * interleaved UV (NV12) or a U plane then a V plane (yuv420p), converted to RGB on the device.
 */
export type EngineInput =
  | { kind: 'rgb'; data: Uint8Array; count: number }
  | { kind: 'pixels'; data: Float32Array; count: number }
  | { kind: YuvKind; data: Uint8Array; count: number; color?: YuvColor | readonly YuvColor[] };

/**
 * The layout of a batch's frames without their bytes: what a plan is recorded for. A YUV batch's
 * colours are not part of it: they go up with the frames, one per frame (streams differ).
 */
export type InputFormat = { kind: EngineInput['kind'] };

/** A batch of uint8 frames to be written in place (Engine.beginBatch, direct-batch.ts). */
export interface BatchRequest {
  kind: FrameKind;
  count: number;
  /** YUV kinds: the colour of every frame not given its own (frame(i, color)); DEFAULT_YUV_COLOR when absent. */
  color?: YuvColor;
}

/**
 * A batch whose frames the caller writes in place: on the GPU engines straight into a slot's
 * mapped staging buffer, so no JS-side batch buffer and no copy into staging. Its views die at
 * submit (their memory is detached); `frame()` then throws.
 */
export interface DirectBatch {
  readonly kind: FrameKind;
  readonly count: number;
  /** Bytes of one frame: S*S*3 for RGB, S*S + 2*ceil(S/2)^2 for YUV 4:2:0. */
  readonly frameBytes: number;
  /** Frame i's bytes, to be filled before submit; a YUV frame's colour where it is not the batch's. */
  frame(i: number, color?: YuvColor): Uint8Array;
  /**
   * Uploads and runs the forward pass over the first `count` frames (default: all): the logits,
   * as infer() gives them. Once. Fewer than begun: a batcher begins maxBatch frames before it
   * knows how many will come (a timer or a change of layout closes it early).
   */
  submit(count?: number): Promise<Float32Array>;
  /** Gives the batch's memory back without running anything (a batch that will not be filled). */
  cancel(): void;
}

export interface Engine {
  readonly config: ViTConfig;
  readonly backend: Backend;
  readonly precision: Precision;
  readonly maxBatch: number;
  /** Logits [count, numClasses]. Calls may overlap; they are queued and pipelined. */
  infer(input: EngineInput): Promise<Float32Array>;
  /**
   * A batch to write in place, where the engine has memory of its own to write into (the GPU
   * engines' mapped staging buffers); `beginBatch(engine, request)` in direct-batch.ts serves any
   * engine. Batches begun and infer() calls share the same turn of slots.
   */
  beginBatch?(request: BatchRequest): Promise<DirectBatch>;
  /** GPU engines: GPU time of the forward pass alone, ms (undefined without timestamp queries). */
  forwardGpuMs?(input: EngineInput, runs?: number): Promise<number | undefined>;
  close(): Promise<void>;
}
