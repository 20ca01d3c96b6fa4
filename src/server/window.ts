/**
 * Sums of recent samples over a sliding time window, in fixed buckets: O(1) to add, O(buckets)
 * to read, constant memory however fast samples come. Used for fps, mean latency and busy time.
 */
export class SlidingWindow {
  private readonly bucketMs: number;
  private readonly counts: Float64Array;
  private readonly sums: Float64Array;
  private readonly stamps: Float64Array;
  private firstAt: number | undefined;

  constructor(
    readonly windowMs: number,
    buckets = 20,
  ) {
    this.bucketMs = windowMs / buckets;
    this.counts = new Float64Array(buckets);
    this.sums = new Float64Array(buckets);
    this.stamps = new Float64Array(buckets).fill(-1);
  }

  /** Records `count` events at time `atMs` whose values add up to `sum`. */
  add(atMs: number, count = 1, sum = 0): void {
    this.firstAt ??= atMs;
    const slot = Math.floor(atMs / this.bucketMs);
    const i = slot % this.counts.length;
    if (this.stamps[i] !== slot) {
      this.stamps[i] = slot;
      this.counts[i] = 0;
      this.sums[i] = 0;
    }
    this.counts[i]! += count;
    this.sums[i]! += sum;
  }

  /** Events per second over the window (or since the first event, if more recent). */
  rate(nowMs: number): number {
    if (this.firstAt === undefined) return 0;
    return (this.total(nowMs).count * 1000) / this.span(nowMs);
  }

  /** Sum of values per ms of window: e.g. the busy fraction when values are durations in ms. */
  sumRate(nowMs: number): number {
    if (this.firstAt === undefined) return 0;
    return this.total(nowMs).sum / this.span(nowMs);
  }

  /**
   * The time the buckets being read cover: from the start of the oldest one (or the first event)
   * to now, so a partly filled current bucket does not bias rates. At least one second (or the
   * window), so that a first few events do not read as a burst.
   */
  private span(nowMs: number): number {
    const oldestStart = (Math.floor(nowMs / this.bucketMs) - this.counts.length + 1) * this.bucketMs;
    const start = Math.max(oldestStart, this.firstAt ?? oldestStart);
    return Math.max(nowMs - start, Math.min(1000, this.windowMs));
  }

  /** Mean value of the events in the window, or undefined if there were none. */
  mean(nowMs: number): number | undefined {
    const { count, sum } = this.total(nowMs);
    return count > 0 ? sum / count : undefined;
  }

  private total(nowMs: number): { count: number; sum: number } {
    const current = Math.floor(nowMs / this.bucketMs);
    const oldest = current - this.counts.length + 1;
    let count = 0;
    let sum = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const stamp = this.stamps[i]!;
      if (stamp >= oldest && stamp <= current) {
        count += this.counts[i]!;
        sum += this.sums[i]!;
      }
    }
    return { count, sum };
  }
}
