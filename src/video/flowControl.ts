export type DropPolicy = 'drop-oldest' | 'drop-newest' | 'block';

export interface FlowControlOptions<T> {
  /** At most this many items may be out (emitted and not yet released); Infinity: no limit. */
  maxUnreleased: number;
  /** 'block' holds every item and pauses the producer; the drop policies keep `maxQueued` waiting. */
  policy: DropPolicy;
  /** Drop policies: items kept waiting before one is dropped (>= 1). */
  maxQueued: number;
  emit(item: T): void;
  /** Stop the producer ('block' only); `resume` undoes it once nothing waits. */
  pause(): void;
  resume(): void;
  /** Nothing waits any more (called after each drain, including when nothing ever waited). */
  idle?(): void;
}

/**
 * Decides, for each item ready, whether it goes downstream now, waits, or is dropped. A file
 * never loses a frame: 'block' waits and pauses ffmpeg's stdout. A live feed never builds
 * latency: at most `maxQueued` wait and the oldest (or newest) is dropped and counted.
 */
export class FlowControl<T extends { release(): void }> {
  /** Items dropped by a drop policy. */
  dropped = 0;
  /** Items emitted downstream. */
  emitted = 0;
  private unreleased = 0;
  private readonly waiting: T[] = [];
  private paused = false;
  private stopped = false;

  constructor(private readonly options: FlowControlOptions<T>) {}

  /** Nothing is held back. */
  get drained(): boolean {
    return this.waiting.length === 0;
  }

  offer(item: T): void {
    const { maxUnreleased, policy, maxQueued } = this.options;
    if (this.stopped) {
      item.release();
      return;
    }
    if (this.waiting.length === 0 && this.unreleased < maxUnreleased) {
      this.emit(item);
      return;
    }
    if (policy === 'block') {
      this.waiting.push(item);
      if (!this.paused) {
        this.paused = true;
        this.options.pause();
      }
      return;
    }
    if (this.waiting.length >= Math.max(1, maxQueued)) {
      this.dropped++;
      if (policy === 'drop-newest') {
        item.release();
        return;
      }
      this.waiting.shift()?.release();
    }
    this.waiting.push(item);
  }

  /** An emitted item was released: let waiting ones through, then resume the producer. */
  released(): void {
    this.unreleased--;
    this.flush();
  }

  /** Releases everything still waiting; later offers are released at once. */
  stop(): void {
    this.stopped = true;
    for (const item of this.waiting.splice(0)) item.release();
  }

  private emit(item: T): void {
    this.unreleased++;
    this.emitted++;
    this.options.emit(item);
  }

  private flush(): void {
    while (!this.stopped && this.waiting.length > 0 && this.unreleased < this.options.maxUnreleased)
      this.emit(this.waiting.shift() as T);
    if (this.stopped || this.waiting.length > 0) return;
    if (this.paused) {
      this.paused = false;
      this.options.resume();
    }
    this.options.idle?.();
  }
}
