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
  /** RGB24, width*height*3 bytes. May be a view into a pooled buffer: copy to keep it. */
  rgb: Uint8Array;
  /**
   * Hands `rgb`'s buffer back to its pool (decodeFrames sets it). After release the pixels may be
   * overwritten. Optional for consumers: an unreleased buffer is garbage collected, but sources with
   * a finite `maxUnreleased` wait for releases (backpressure). Idempotent.
   */
  release?(): void;
}

/** Frame metadata without pixels, carried alongside a batch. */
export type FrameInfo = Omit<Frame, 'rgb' | 'release'>;

/**
 * Several frames packed contiguously ([count, H, W, 3]) for one engine call. `data` is a view
 * into a pooled buffer; call `release()` once the engine has consumed it so it can be reused.
 */
export interface FrameBatch {
  frames: FrameInfo[];
  data: Uint8Array;
  count: number;
  release(): void;
}
