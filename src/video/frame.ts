/** One decoded frame, already at the model's input size (scaling happens in ffmpeg). */
export interface Frame {
  streamId: string;
  /** 0-based index of the frame in its stream, counting every decoded frame (before sampling). */
  index: number;
  /** Presentation time in ms, from the stream's own timestamps. */
  ptsMs: number;
  /** Wall-clock time (epoch ms) at which the frame arrived from ffmpeg. */
  receivedAtMs: number;
  width: number;
  height: number;
  /** RGB24, width*height*3 bytes. May be a view into a pooled buffer: copy to keep it. */
  rgb: Uint8Array;
}

/** Frame metadata without pixels, carried alongside a batch. */
export type FrameInfo = Omit<Frame, 'rgb'>;

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
