/** Largest |a - b| divided by the largest |b|: the "relative to the largest logit" error. */
export function relMaxError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return maxDiff / (maxRef || 1);
}

export function argmaxRows(x: ArrayLike<number>, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / cols; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (x[r * cols + c] > x[r * cols + best]) best = c;
    out.push(best);
  }
  return out;
}
