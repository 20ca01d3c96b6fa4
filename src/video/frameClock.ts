/**
 * Settles each frame's ptsMs. A frame with a pts keeps it (VFR included). Without one, a live
 * source (some MJPEG feeds carry no timestamps) uses wall time since its first frame, and a file
 * continues from the last pts by the last step between frames.
 */
export class FrameClock {
  private last: number | undefined;
  private step = 0;
  private firstWallMs: number | undefined;

  constructor(private readonly live: boolean) {}

  ptsOf(pts: number | undefined, nowMs: number): number {
    this.firstWallMs ??= nowMs;
    let ptsMs: number;
    if (pts !== undefined) {
      if (this.last !== undefined && pts > this.last) this.step = pts - this.last;
      ptsMs = pts;
    } else if (this.live) {
      ptsMs = nowMs - this.firstWallMs;
    } else {
      ptsMs = this.last === undefined ? 0 : this.last + this.step;
    }
    this.last = ptsMs;
    return ptsMs;
  }
}
