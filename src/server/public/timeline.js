// vitstream timeline: the top-1 class over time as coloured bands, in plain SVG.
// No dependencies and no build step, so the same file serves the live dashboard and is inlined
// into the self-contained `classify --report` page, which must open offline.

const SVG_NS = 'http://www.w3.org/2000/svg';

// Twenty colours that stay apart on light and dark backgrounds: Tableau 10 with its grey swapped
// for cyan (a grey band reads as "nothing"), then the lighter Tableau 20 tones.
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#17becf',
  '#a0cbe8',
  '#ffbe7d',
  '#8cd17d',
  '#b6992d',
  '#f1ce63',
  '#86bcb6',
  '#d37295',
  '#fabfd2',
  '#d4a6c8',
  '#79706e',
];

/**
 * A class's colour: by its class index when known (so one model's classes never share a colour
 * up to 20 classes), else by a hash of its label. The same class gets the same colour everywhere.
 * @param {string} label
 * @param {number} [index]
 */
export function classColor(label, index) {
  if (Number.isInteger(index) && index >= 0) return PALETTE[index % PALETTE.length];
  let h = 2166136261;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619);
  return PALETTE[(h >>> 0) % PALETTE.length];
}

/**
 * @typedef {{time: number, label: string, score: number, index?: number}} TimelinePoint
 * @typedef {{label: string, index?: number, start: number, end: number, first: number, last: number}} Band
 */

/**
 * Accepts `{time | ptsMs, label, score, index}` or a prediction `{ptsMs, top: [{label, score, index}]}`.
 * @returns {TimelinePoint | undefined} undefined for anything without a finite time and a label.
 */
export function toPoint(p) {
  if (!p || typeof p !== 'object') return undefined;
  const top = Array.isArray(p.top) ? p.top[0] : p;
  const time = typeof p.time === 'number' ? p.time : p.ptsMs;
  if (!top || typeof top.label !== 'string' || typeof time !== 'number' || !Number.isFinite(time))
    return undefined;
  const score = typeof top.score === 'number' ? top.score : Number.NaN;
  return { time, label: top.label, score, ...(Number.isInteger(top.index) && { index: top.index }) };
}

/** The median gap between consecutive points at different times (0 if there are none). */
export function medianStep(points) {
  const gaps = [];
  for (let i = 1; i < points.length; i++) {
    const gap = points[i].time - points[i - 1].time;
    if (gap > 0) gaps.push(gap);
  }
  if (gaps.length === 0) return 0;
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)];
}

/**
 * Consecutive points with the same label make one band, from its first point's time to the next
 * band's first point. The last band, and a band before a gap longer than `gapMs` (default four
 * median steps: a stalled feed), end one median step after their last point, so a gap is not
 * painted as if the class had been seen through it. Points must be in time order.
 * @param {TimelinePoint[]} points
 * @param {{gapMs?: number}} [options]
 * @returns {Band[]} `first`/`last` are indices into `points`.
 */
export function toBands(points, options = {}) {
  const step = medianStep(points);
  const gapMs = options.gapMs ?? 4 * step;
  const bands = [];
  let open;
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    const next = points[i + 1];
    if (!open) open = { label: p.label, index: p.index, start: p.time, end: p.time, first: i, last: i };
    open.last = i;
    const gap = next ? next.time - p.time : Number.POSITIVE_INFINITY;
    if (!next || gap > gapMs || next.label !== p.label) {
      open.end = gap > gapMs ? p.time + step : next.time;
      bands.push(open);
      open = undefined;
    }
  }
  return bands;
}

const TICK_STEPS_MS = [
  100, 200, 500, 1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3,
  21600e3,
];

/**
 * Round tick times in [start, end]: the smallest step from a 1-2-5 / clock series giving at most
 * `maxTicks` ticks.
 */
export function niceTicks(start, end, maxTicks) {
  const span = Math.max(end - start, 1);
  const step = TICK_STEPS_MS.find((s) => span / s <= Math.max(1, maxTicks)) ?? TICK_STEPS_MS.at(-1) ?? 1;
  const ticks = [];
  for (let t = Math.ceil(start / step) * step; t <= end + 1e-9; t += step) ticks.push(t);
  return { step, ticks };
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/**
 * 'relative': time into the video, m:ss (h:mm:ss past an hour), with tenths when `step` < 1 s.
 * 'clock': local wall-clock time HH:MM:SS of an epoch ms.
 */
export function formatTime(ms, mode = 'relative', step = 1000) {
  if (mode === 'clock') {
    const d = new Date(ms);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  const sign = ms < 0 ? '-' : '';
  const tenths = Math.round(Math.abs(ms) / 100);
  const whole = Math.floor(tenths / 10);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  const base = h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  return `${sign}${base}${step < 1000 ? `.${tenths % 10}` : ''}`;
}

export const formatScore = (score) => (Number.isFinite(score) ? `${(score * 100).toFixed(1)}%` : '–');

/** Index of the last point at or before `time` (binary search), or -1. */
function pointAt(points, time) {
  let lo = 0;
  let hi = points.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].time <= time) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const svg = (name, attrs) => {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
};

const html = (name, className, text) => {
  const el = document.createElement(name);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
};

const BAND_Y = 4;
const BAND_H = 30;
const AXIS_Y = BAND_Y + BAND_H;
const HEIGHT = AXIS_Y + 22;
const PAD_X = 18;

/**
 * A timeline widget. `mode` 'relative' (a file: the axis runs from 0 to the last band) or 'clock'
 * (a live feed: the axis shows wall-clock time and keeps the last `windowMs`; older points are
 * dropped, so memory stays bounded). Mount `element` anywhere; it redraws at its own width.
 * @param {{mode?: 'relative' | 'clock', windowMs?: number, maxPoints?: number, gapMs?: number, now?: () => number}} [options]
 */
export function createTimeline(options = {}) {
  const mode = options.mode ?? 'relative';
  const windowMs = options.windowMs ?? 5 * 60_000;
  const maxPoints = options.maxPoints ?? 20_000;
  const now = options.now ?? Date.now;
  /** @type {TimelinePoint[]} */
  let points = [];
  /** @type {Band[]} */
  let bands = [];
  let filter = '';
  let domain = [0, 1];
  let drawQueued = false;
  // Live points carry the server's clock (when the frame arrived there): the axis follows that
  // clock, offset from this one as of the newest point, so a skewed clock cannot push them out.
  let clockOffset = 0;
  const pointsNow = () => now() + clockOffset;

  const root = html('div', 'vt-timeline');
  root.dataset.mode = mode;
  const legend = html('div', 'vt-legend');
  legend.setAttribute('role', 'group');
  legend.setAttribute('aria-label', 'show one class');
  const found = html('p', 'vt-found');
  found.setAttribute('aria-live', 'polite');
  const plot = html('div', 'vt-plot');
  const chart = svg('svg', { class: 'vt-svg', height: HEIGHT, role: 'img' });
  const tip = html('div', 'vt-tip');
  tip.hidden = true;
  const empty = html('p', 'vt-empty', 'no predictions yet');
  plot.append(chart, tip);
  root.append(legend, plot, found, empty);

  const width = () => Math.max(160, Math.floor(plot.clientWidth || root.clientWidth || 320));
  const xOf = (t, w) => PAD_X + ((t - domain[0]) / Math.max(domain[1] - domain[0], 1)) * (w - 2 * PAD_X);
  const timeOf = (x, w) => domain[0] + ((x - PAD_X) / (w - 2 * PAD_X)) * (domain[1] - domain[0]);

  function recompute() {
    bands = toBands(points, { gapMs: options.gapMs });
    if (mode === 'clock') {
      // Up to the newest band's end, so the newest prediction is drawn at once.
      const end = Math.max(pointsNow(), bands.at(-1)?.end ?? 0);
      domain = [Math.max(points[0]?.time ?? end - windowMs, end - windowMs), end];
    } else {
      const end = bands.at(-1)?.end ?? 1;
      domain = [Math.min(0, points[0]?.time ?? 0), end];
    }
  }

  function draw() {
    drawQueued = false;
    lastDrawAt = performance.now();
    recompute();
    const w = width();
    chart.setAttribute('width', String(w));
    chart.setAttribute('viewBox', `0 0 ${w} ${HEIGHT}`);
    chart.replaceChildren();
    empty.hidden = points.length > 0;
    chart.append(
      svg('rect', { class: 'vt-track', x: PAD_X, y: BAND_Y, width: w - 2 * PAD_X, height: BAND_H }),
    );
    const bandLayer = svg('g', { class: 'vt-bands' });
    for (const b of bands) {
      const x0 = Math.max(PAD_X, xOf(b.start, w));
      const x1 = Math.min(w - PAD_X, xOf(b.end, w));
      if (x1 < PAD_X || x0 > w - PAD_X) continue;
      const rect = svg('rect', {
        class: `vt-band${filter && b.label !== filter ? ' vt-dim' : ''}`,
        x: x0.toFixed(2),
        y: BAND_Y,
        width: Math.max(0.75, x1 - x0).toFixed(2),
        height: BAND_H,
        fill: classColor(b.label, b.index),
        'data-label': b.label,
        'data-start': b.start,
        'data-end': b.end,
        'data-count': b.last - b.first + 1,
      });
      bandLayer.append(rect);
    }
    chart.append(bandLayer);
    const axis = svg('g', { class: 'vt-axis' });
    axis.append(svg('line', { x1: PAD_X, x2: w - PAD_X, y1: AXIS_Y, y2: AXIS_Y }));
    const { step, ticks } = niceTicks(domain[0], domain[1], Math.floor((w - 2 * PAD_X) / 64));
    for (const t of ticks) {
      const x = xOf(t, w);
      const g = svg('g', { class: 'vt-tick', 'data-ms': t });
      g.append(svg('line', { x1: x, x2: x, y1: AXIS_Y, y2: AXIS_Y + 4 }));
      const label = formatTime(t, mode, step);
      // Labels at the ends are moved inwards so that none is cut by the edge (11 px digits are
      // about 6.5 px wide).
      const half = label.length * 3.3;
      const text = svg('text', {
        x: Math.min(Math.max(x, half), w - half).toFixed(2),
        y: AXIS_Y + 16,
        'text-anchor': 'middle',
      });
      text.textContent = label;
      g.append(text);
      axis.append(g);
    }
    chart.append(axis);
    chart.setAttribute('aria-label', summaryText());
    drawLegend();
    drawFound();
    if (hoverClientX !== undefined) tipAt(hoverClientX);
  }

  function summaryText() {
    if (bands.length === 0) return 'timeline: no predictions';
    const labels = [...new Set(bands.map((b) => b.label))];
    return `timeline from ${formatTime(domain[0], mode)} to ${formatTime(domain[1], mode)}: ${labels.join(', ')}`;
  }

  /** Seconds per label over the bands drawn, largest first. */
  function shares() {
    const byLabel = new Map();
    for (const b of bands) {
      const s = byLabel.get(b.label) ?? { label: b.label, index: b.index, ms: 0, bands: 0 };
      s.ms += Math.max(0, Math.min(b.end, domain[1]) - Math.max(b.start, domain[0]));
      s.bands++;
      byLabel.set(b.label, s);
    }
    return [...byLabel.values()].sort((a, b) => b.ms - a.ms || a.label.localeCompare(b.label));
  }

  function drawLegend() {
    const seen = shares();
    const key = seen.map((s) => s.label).join('\n');
    if (legend.dataset.key !== key) {
      legend.dataset.key = key;
      legend.replaceChildren(
        ...seen.map((s) => {
          const chip = html('button', 'vt-chip');
          chip.type = 'button';
          chip.dataset.label = s.label;
          const swatch = html('span', 'vt-swatch');
          swatch.style.background = classColor(s.label, s.index);
          chip.append(swatch, html('span', 'vt-chip-label', s.label));
          chip.addEventListener('click', () => setFilter(filter === s.label ? '' : s.label));
          return chip;
        }),
      );
    }
    for (const chip of legend.children)
      chip.setAttribute('aria-pressed', String(chip.dataset.label === filter));
  }

  function drawFound() {
    found.hidden = !filter;
    if (!filter) return;
    const mine = bands.filter((b) => b.label === filter);
    const s = shares().find((x) => x.label === filter);
    found.textContent =
      mine.length === 0
        ? `${filter}: not seen`
        : `${filter}: ${mine.length} time${mine.length === 1 ? '' : 's'}, ${((s?.ms ?? 0) / 1000).toFixed(1)} s, first at ${formatTime(mine[0].start, mode)}`;
  }

  // The pointer's last x on the page while it is over the plot: live redraws move the bands
  // under a still pointer, so the tip is recomputed after each draw.
  let hoverClientX;
  function showTip(ev) {
    hoverClientX = ev.clientX;
    tipAt(ev.clientX);
  }
  function tipAt(clientX) {
    const box = chart.getBoundingClientRect();
    const w = width();
    const x = ((clientX - box.left) / box.width) * w;
    const i = pointAt(points, timeOf(x, w));
    const b = i >= 0 ? bands.find((band) => band.first <= i && i <= band.last) : undefined;
    if (!b || timeOf(x, w) > b.end) {
      tip.hidden = true;
      return;
    }
    const p = points[i];
    tip.textContent = `${p.label} · ${formatScore(p.score)} · ${formatTime(p.time, mode, 100)}`;
    tip.dataset.label = p.label;
    tip.hidden = false;
    const left = Math.min(Math.max(0, clientX - box.left - tip.offsetWidth / 2), box.width - tip.offsetWidth);
    tip.style.left = `${Math.max(0, left)}px`;
  }
  chart.addEventListener('pointermove', showTip);
  chart.addEventListener('pointerdown', showTip);
  chart.addEventListener('pointerleave', () => {
    hoverClientX = undefined;
    tip.hidden = true;
  });

  // A redraw walks every point kept (minutes of a 30 fps feed): live, at most four a second.
  let lastDrawAt = -Infinity;
  function scheduleDraw() {
    if (drawQueued) return;
    drawQueued = true;
    const wait = Math.max(0, lastDrawAt + 250 - performance.now());
    setTimeout(() => requestAnimationFrame(draw), wait);
  }

  if (typeof ResizeObserver !== 'undefined') new ResizeObserver(scheduleDraw).observe(plot);

  function setFilter(label) {
    filter = label || '';
    root.dataset.filter = filter;
    draw();
  }

  function prune() {
    if (mode !== 'clock') return;
    const from = Math.max(pointsNow(), points.at(-1)?.time ?? 0) - windowMs;
    // Keep the last point before the window: its band reaches into it.
    let cut = 0;
    while (cut + 1 < points.length && points[cut + 1].time <= from) cut++;
    if (points.length - cut > maxPoints) cut = points.length - maxPoints;
    if (cut > 0) points = points.slice(cut);
  }

  draw();
  return {
    element: root,
    /** Replaces all points (a file's predictions, in any order). */
    setPoints(list) {
      points = list
        .map(toPoint)
        .filter((p) => p !== undefined)
        .sort((a, b) => a.time - b.time);
      prune();
      draw();
    },
    /** Appends one live point (a prediction as it arrives); redraws at most once per frame. */
    add(p) {
      const point = toPoint(p);
      if (!point) return;
      if (mode === 'clock' && point.time >= (points.at(-1)?.time ?? Number.NEGATIVE_INFINITY))
        clockOffset = point.time - now();
      if (points.length > 0 && point.time < points.at(-1).time)
        points.splice(pointAt(points, point.time) + 1, 0, point);
      else points.push(point);
      prune();
      scheduleDraw();
    },
    setFilter,
    redraw: draw,
  };
}

// The dashboard's app.js is a classic script: it finds the widget here.
if (typeof window !== 'undefined') window.vitstreamTimeline = { createTimeline };
