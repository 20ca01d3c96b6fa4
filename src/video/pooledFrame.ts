import type { Frame, FrameColor } from './frame.js';

/** A frame whose pixels live in a pool buffer; release() hands them back, once. */
export class PooledFrame implements Frame {
  file?: string;
  pixelFormat?: 'rgb' | 'nv12';
  color?: FrameColor;
  /** Set when it went downstream: only such frames count against flow control. */
  emitted = false;
  private released = false;

  constructor(
    readonly streamId: string,
    public index: number,
    readonly ptsMs: number,
    readonly receivedAtMs: number,
    readonly width: number,
    readonly height: number,
    readonly rgb: Uint8Array,
    private readonly onRelease: (f: PooledFrame) => void,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease(this);
  }
}
