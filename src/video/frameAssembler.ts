/** A frame cut from ffmpeg's stdout, with the pts its showinfo line gave (undefined: none). */
export interface AssembledFrame {
  pixels: Uint8Array;
  ptsMs: number | undefined;
  /** Its decoded index, where a select left frames out before the output (see SelectedFrames). */
  index?: number;
}

/**
 * Cuts ffmpeg's rawvideo stdout into frames of `frameBytes` and pairs each, in order, with its pts
 * line from stderr. The two pipes are read independently, so either may run ahead of the other:
 * frames wait for their pts and pts for their frames. Pure: no process, no clock.
 */
export class FrameAssembler {
  private filling: Uint8Array | undefined;
  private filled = 0;
  private readonly pixelsWaiting: Uint8Array[] = [];
  private readonly ptsWaiting: Omit<AssembledFrame, 'pixels'>[] = [];

  constructor(
    private readonly frameBytes: number,
    /** Where frame buffers come from (a pool). */
    private readonly acquire: () => Uint8Array,
    private readonly onFrame: (frame: AssembledFrame) => void,
  ) {}

  /** Bytes from stdout, cut anywhere. */
  write(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      if (!this.filling) {
        this.filling = this.acquire();
        this.filled = 0;
      }
      const n = Math.min(this.frameBytes - this.filled, chunk.length - off);
      this.filling.set(chunk.subarray(off, off + n), this.filled);
      this.filled += n;
      off += n;
      if (this.filled === this.frameBytes) {
        this.pixelsWaiting.push(this.filling);
        this.filling = undefined;
      }
    }
    this.pair();
  }

  /** One showinfo pts line from stderr. */
  pts(ptsMs: number | undefined, index?: number): void {
    this.ptsWaiting.push({ ptsMs, index });
    this.pair();
  }

  /**
   * stdout has ended: frames whose pts line never came (should not happen) go out without one.
   * Returns the bytes of an incomplete last frame, which is dropped (0 when ffmpeg ended cleanly).
   */
  end(): number {
    while (this.pixelsWaiting.length > 0) this.pts(undefined);
    const partial = this.filling ? this.filled : 0;
    this.filling = undefined;
    this.filled = 0;
    return partial;
  }

  private pair(): void {
    while (this.pixelsWaiting.length > 0 && this.ptsWaiting.length > 0) {
      const pixels = this.pixelsWaiting.shift() as Uint8Array;
      this.onFrame({ pixels, ...(this.ptsWaiting.shift() as Omit<AssembledFrame, 'pixels'>) });
    }
  }
}
