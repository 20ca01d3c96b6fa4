import { QMAX } from './quant.js';

const BINS = 2048;

/**
 * Histogram of |x| over [0, range), range doubling (adjacent bins merged) whenever a larger
 * value arrives, so that one pass over the calibration set suffices and memory stays fixed.
 */
export class AbsHistogram {
  readonly counts = new Float64Array(BINS);
  range = 0;
  absMax = 0;
  total = 0;

  add(x: ArrayLike<number>): void {
    let m = 0;
    for (let i = 0; i < x.length; i++) {
      const a = Math.abs(x[i]);
      if (a > m) m = a;
    }
    if (m > this.absMax) this.absMax = m;
    if (this.range === 0) this.range = m > 0 ? m * 1.0001 : 1e-8;
    while (m >= this.range) this.grow();
    const perBin = BINS / this.range;
    const c = this.counts;
    for (let i = 0; i < x.length; i++) {
      const b = Math.floor(Math.abs(x[i]) * perBin);
      c[b < BINS ? b : BINS - 1]++;
    }
    this.total += x.length;
  }

  private grow(): void {
    const c = this.counts;
    for (let i = 0; i < BINS / 2; i++) c[i] = c[2 * i] + c[2 * i + 1];
    c.fill(0, BINS / 2);
    this.range *= 2;
  }

  /** The |x| below which `p` percent of the values lie (linear inside a bin), at most absMax. */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const target = (this.total * p) / 100;
    const width = this.range / BINS;
    let cum = 0;
    for (let i = 0; i < BINS; i++) {
      const next = cum + this.counts[i];
      if (next >= target) {
        const frac = this.counts[i] > 0 ? (target - cum) / this.counts[i] : 0;
        return Math.min(this.absMax, (i + frac) * width);
      }
      cum = next;
    }
    return this.absMax;
  }

  /**
   * The clip threshold minimising the expected squared error of symmetric int8 quantisation,
   * with each bin's values taken at its centre: rounding error below the threshold, clipping
   * error above it. Candidates: 256 thresholds spread over (0, absMax].
   */
  mseThreshold(): number {
    if (this.total === 0 || this.absMax === 0) return this.absMax;
    const width = this.range / BINS;
    const lastBin = Math.min(BINS - 1, Math.floor(this.absMax / width));
    let best = this.absMax;
    let bestErr = Number.POSITIVE_INFINITY;
    for (let step = 1; step <= 256; step++) {
      const t = (this.absMax * step) / 256;
      const s = t / QMAX;
      let err = 0;
      for (let i = 0; i <= lastBin; i++) {
        const n = this.counts[i];
        if (n === 0) continue;
        const c = (i + 0.5) * width;
        const d = c > t ? c - t : c - Math.round(c / s) * s;
        err += n * d * d;
      }
      if (err < bestErr) {
        bestErr = err;
        best = t;
      }
    }
    return best;
  }
}
