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
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, logits[offset + c]);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(logits[offset + c] - max);
  // Partial selection: k is small (5), classes up to 21k.
  const best: { index: number; logit: number }[] = [];
  for (let c = 0; c < classes; c++) {
    const v = logits[offset + c];
    if (best.length < k || v > best[best.length - 1].logit) {
      let i = best.length < k ? best.length : k - 1;
      if (best.length < k) best.push({ index: c, logit: v });
      while (i > 0 && best[i - 1].logit < v) {
        best[i] = best[i - 1];
        i--;
      }
      best[i] = { index: c, logit: v };
    }
  }
  return best.map(({ index, logit }) => ({
    index,
    label: labels?.[index] ?? `class ${index}`,
    score: Math.exp(logit - max) / sum,
  }));
}
