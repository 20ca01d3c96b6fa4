/** One class and its softmax probability. */
export interface TopClass {
  index: number;
  label: string;
  score: number;
}

/**
 * The k most probable classes of one row of logits, with softmax probabilities. Softmax is
 * computed in float64 with the max subtracted, so large logits cannot overflow.
 */
export function topK(
  logits: ArrayLike<number>,
  k: number,
  labels?: readonly string[],
  offset = 0,
  classes = logits.length,
): TopClass[] {
  // One pass keeps the k best in two small arrays (sorted, best first; no object per candidate):
  // called per frame on 1000-21k classes, the allocations cost more than the arithmetic.
  const n = Math.min(k, classes);
  const index = new Int32Array(n);
  const best = new Float64Array(n).fill(-Infinity);
  let kept = 0;
  for (let c = 0; c < classes; c++) {
    const v = logits[offset + c];
    if (kept === n && !(v > best[n - 1])) continue;
    let i = kept < n ? kept++ : n - 1;
    while (i > 0 && best[i - 1] < v) {
      best[i] = best[i - 1];
      index[i] = index[i - 1];
      i--;
    }
    best[i] = v;
    index[i] = c;
  }
  let max = -Infinity;
  for (let c = 0; c < classes; c++) if (logits[offset + c] > max) max = logits[offset + c];
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(logits[offset + c] - max);
  const top: TopClass[] = [];
  for (let i = 0; i < kept; i++)
    top.push({
      index: index[i],
      label: labels?.[index[i]] ?? `class ${index[i]}`,
      score: Math.exp(best[i] - max) / sum,
    });
  return top;
}
