/**
 * How a YUV frame's bytes map to RGB: the matrix (BT.601 for SD, BT.709 for HD) and the range
 * (limited: Y 16-235; full: 0-255). The same shape as the engine's YuvColor, which video may not import.
 */
export interface FrameColor {
  matrix: 'bt601' | 'bt709';
  range: 'limited' | 'full';
}

/** One decoded frame, already at the model's input size (scaling happens in ffmpeg). */
export interface Frame {
  streamId: string;
  /** 0-based index of the frame in its stream, counting every decoded frame (before sampling). */
  index: number;
  /** Presentation time in ms, from the stream's own timestamps. */
  ptsMs: number;
  /** Wall-clock time (epoch ms) at which the frame arrived from ffmpeg. */
  receivedAtMs: number;
  /** Image folders and globs: the image file this frame was decoded from. */
  file?: string;
  width: number;
  height: number;
  /**
   * The pixels: RGB24 (width*height*3 bytes), or NV12 when `pixelFormat` is 'nv12' (width*height
   * bytes of Y, then 2*ceil(width/2)*ceil(height/2) of interleaved UV). May be a view into a pooled
   * buffer: copy to keep it.
   */
  rgb: Uint8Array;
  /** Layout of `rgb`'s bytes; absent means 'rgb'. */
  pixelFormat?: 'rgb' | 'nv12';
  /** NV12 frames: the colour description their bytes follow. */
  color?: FrameColor;
  /**
   * Hands `rgb`'s buffer back to its pool (decodeFrames sets it). After release the pixels may be
   * overwritten. Optional for consumers: an unreleased buffer is garbage collected, but sources with
   * a finite `maxUnreleased` wait for releases (backpressure). Idempotent.
   */
  release?(): void;
}

/** A decoded frame the sampling left out: no pixels, just which frame it was. */
export type SkippedFrame = Pick<Frame, 'streamId' | 'index' | 'ptsMs'>;

/** Frame metadata without pixels, carried alongside a batch. */
export type FrameInfo = Omit<Frame, 'rgb' | 'release'>;

/**
 * Several frames packed contiguously ([count, H, W, 3], or NV12 frames one after another) for one engine call. `data` is a view
 * into a pooled buffer; call `release()` once the engine has consumed it so it can be reused.
 */
export interface FrameBatch {
  frames: FrameInfo[];
  /** Every frame of a batch has the same layout (batchFrames starts a new batch when it changes); absent: 'rgb'. */
  pixelFormat?: 'rgb' | 'nv12';
  /** NV12: the colour of every frame, when they share one; each FrameInfo carries its own. */
  color?: FrameColor;
  data: Uint8Array;
  count: number;
  release(): void;
}
