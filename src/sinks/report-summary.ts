/** One classified frame as the report keeps it: time, top-1 class and its score. */
export interface ReportPoint {
  ptsMs: number;
  label: string;
  index: number;
  score: number;
}

export interface ClassShare {
  label: string;
  index: number;
  frames: number;
  ms: number;
  share: number;
}

export interface FileSummaryNumbers {
  frames: number;
  durationMs: number;
  classes: ClassShare[];
}

/**
 * Frames, time covered and each top-1 class's share of it, by the timeline's own rule
 * (src/server/public/timeline.js toBands): a frame's class holds until the next frame, and the
 * last frame, or one before a gap of more than four median steps, holds for one median step (the
 * median of the gaps between distinct times).
 */
export function summarizePoints(points: readonly ReportPoint[]): FileSummaryNumbers {
  const sorted = [...points].sort((a, b) => a.ptsMs - b.ptsMs);
  const gaps = sorted
    .slice(1)
    .map((p, i) => p.ptsMs - sorted[i]!.ptsMs)
    .filter((g) => g > 0);
  gaps.sort((a, b) => a - b);
  const step = gaps.length ? gaps[Math.floor(gaps.length / 2)]! : 0;
  const byLabel = new Map<string, ClassShare>();
  let durationMs = 0;
  sorted.forEach((p, i) => {
    const next = sorted[i + 1];
    const gap = next ? next.ptsMs - p.ptsMs : Number.POSITIVE_INFINITY;
    const ms = gap > 4 * step ? step : gap;
    durationMs += ms;
    const s = byLabel.get(p.label) ?? { label: p.label, index: p.index, frames: 0, ms: 0, share: 0 };
    s.frames++;
    s.ms += ms;
    byLabel.set(p.label, s);
  });
  const classes = [...byLabel.values()];
  for (const c of classes) c.share = durationMs > 0 ? c.ms / durationMs : c.frames / sorted.length;
  classes.sort((a, b) => b.share - a.share || a.label.localeCompare(b.label));
  return { frames: sorted.length, durationMs, classes };
}
