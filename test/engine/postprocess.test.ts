import { describe, expect, it } from 'vitest';
import { topK } from '../../src/engine/postprocess.js';

/** The obvious way: softmax in float64 over the whole row, then a full sort (ties by lower index). */
function bruteForce(row: number[], k: number) {
  const max = Math.max(...row);
  const e = row.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return row
    .map((_, index) => ({ index, score: e[index]! / sum }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, k);
}

/** Deterministic pseudo-random logits (no Math.random: failures must be reproducible). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('topK', () => {
  it('matches a full sort + softmax on random rows of many sizes', () => {
    const rand = lcg(42);
    for (const classes of [1, 2, 5, 10, 1000, 21843]) {
      for (const k of [1, 3, 5, 10]) {
        const row = Array.from({ length: classes }, () => (rand() - 0.5) * 20);
        const got = topK(Float32Array.from(row), k);
        const want = bruteForce(Array.from(Float32Array.from(row)), Math.min(k, classes));
        expect(got.map((t) => t.index)).toEqual(want.map((t) => t.index));
        got.forEach((t, i) => {
          expect(t.score).toBeCloseTo(want[i]!.score, 12);
        });
      }
    }
  });

  it('reads one row of a [N, C] matrix through offset and classes', () => {
    const rand = lcg(7);
    const N = 4;
    const C = 37;
    const m = Float32Array.from({ length: N * C }, () => rand() * 10);
    for (let r = 0; r < N; r++) {
      const row = Array.from(m.subarray(r * C, (r + 1) * C));
      expect(topK(m, 5, undefined, r * C, C).map((t) => t.index)).toEqual(
        bruteForce(row, 5).map((t) => t.index),
      );
    }
  });

  it('softmax does not overflow on huge logits and sums to 1 when k = classes', () => {
    const got = topK([1000, 999, 998, -1e4], 4);
    expect(got.map((t) => t.index)).toEqual([0, 1, 2, 3]);
    expect(got.reduce((a, t) => a + t.score, 0)).toBeCloseTo(1, 12);
    expect(got[0]!.score).toBeCloseTo(1 / (1 + Math.exp(-1) + Math.exp(-2)), 12);
    for (const t of got) expect(Number.isFinite(t.score)).toBe(true);
  });

  it('names classes from labels, else "class N"', () => {
    expect(topK([0, 2, 1], 2, ['cat', 'dog', 'bird']).map((t) => t.label)).toEqual(['dog', 'bird']);
    expect(topK([0, 2, 1], 1).map((t) => t.label)).toEqual(['class 1']);
  });

  it('ties keep every tied class once', () => {
    const got = topK([1, 3, 3, 3, 0], 3);
    expect(got.map((t) => t.index).sort()).toEqual([1, 2, 3]);
  });
});
