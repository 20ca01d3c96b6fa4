export type DropPolicy = 'drop-oldest' | 'drop-newest' | 'block';

export interface FlowControlOptions<T> {
  /** At most this many items may be out (emitted and not yet released); Infinity: no limit. */
  maxUnreleased: number;
  /** 'block' holds every item and pauses the producer; the drop policies keep `maxQueued` waiting. */
  policy: DropPolicy;
  /** Drop policies: items kept waiting before one is dropped (>= 1); with `maxQueuedMs`, a memory cap only. */
  maxQueued: number;
  /**
   * Drop policies: keep waiting items spanning up to this much media time (by `timeOf`) before one
   * is dropped. A bursty source (HLS delivers a segment at once) is then judged by its own clock:
   * a burst the consumer absorbs before the next one is kept whole. 0 or absent: count only.
   */
  maxQueuedMs?: number;
  /** Media time of an item (ms), for `maxQueuedMs`. */
  timeOf?(item: T): number;
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
    const { maxUnreleased, policy } = this.options;
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
    if (policy === 'drop-newest' && this.full(item)) {
      this.dropped++;
      item.release();
      return;
    }
    // The oldest go until the newcomer fits (several when a time jump widens the span).
    while (this.waiting.length > 0 && this.full(item)) {
      this.dropped++;
      this.waiting.shift()?.release();
    }
    this.waiting.push(item);
  }

  /** Taking `item` would exceed the queue's bound: its count, or the media time its items span. */
  private full(item: T): boolean {
    const { maxQueued, maxQueuedMs, timeOf } = this.options;
    if (this.waiting.length >= Math.max(1, maxQueued)) return true;
    if (!maxQueuedMs || !timeOf) return false;
    const oldest = this.waiting[0];
    // Always room for one: a lone item spans nothing.
    return oldest !== undefined && Math.abs(timeOf(item) - timeOf(oldest)) > maxQueuedMs;
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
