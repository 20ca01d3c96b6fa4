import type { TopClass } from './engine/postprocess.js';

// topK makes the classes; a prediction carries them.
export type { TopClass };

/** The result for one frame, as pushed to sinks and WebSocket clients. */
export interface Prediction {
  streamId: string;
  frame: number;
  ptsMs: number;
  /** Epoch ms when the frame arrived from its source. */
  receivedAtMs: number;
  /** Frame arrival to prediction, ms. */
  latencyMs: number;
  /** Image folders and globs: the image classified (the stream id is the folder or glob). */
  file?: string;
  top: TopClass[];
  /** The classified frame's RGB pixels, when asked for (thumbnails: see classify's keepPixels). */
  image?: { rgb: Uint8Array; width: number; height: number };
}
