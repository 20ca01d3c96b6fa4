/** A decoded frame that ffmpeg's select left out. */
export interface LeftOutFrame {
  index: number;
  ptsMs: number | undefined;
}

// A frame is in the filter graph between the tap and the output for a few frames at most; one
// this far behind the newest was left out, and forgetting it keeps memory bounded (every=1e9).
const MAX_PENDING = 1024;

/**
 * Gives each frame that comes out of ffmpeg's `select` its decoded index. ffmpeg runs a showinfo
 * before the select (the tap: every decoded frame, in order) and one at the output; an output
 * frame is the first pending tapped frame with its key (pts and byte position, see
 * ShowinfoHandlers), and the tapped frames before it were left out. Pure: fed the two showinfo
 * streams in the order ffmpeg wrote them.
 */
export class SelectedFrames {
  private pending: { index: number; key: string; ptsMs: number | undefined }[] = [];

  constructor(private readonly onLeftOut: (frame: LeftOutFrame) => void) {}

  /** A frame at the tap (before the select), with its decoded index. */
  tapped(index: number, ptsMs: number | undefined, key: string): void {
    this.pending.push({ index, key, ptsMs });
    if (this.pending.length > MAX_PENDING) this.leaveOut(this.pending.length - MAX_PENDING);
  }

  /** A frame at the output; its decoded index (undefined if the tap never saw its key). */
  selected(key: string): number | undefined {
    const at = this.pending.findIndex((f) => f.key === key);
    if (at < 0) return undefined;
    this.leaveOut(at);
    return this.pending.shift()?.index;
  }

  /** ffmpeg has exited: every frame still pending was left out. */
  end(): void {
    this.leaveOut(this.pending.length);
  }

  private leaveOut(n: number): void {
    for (const { index, ptsMs } of this.pending.splice(0, n)) this.onLeftOut({ index, ptsMs });
  }
}
