import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain browser ES module without type declarations
import * as timeline from '../../../src/server/public/timeline.js';
import { boxOf, haveChromium, launchChromium, SCREENSHOTS } from '../../helpers/chromium.js';

// The timeline module against a hand-made list: its pure parts in Node, its drawing in Chromium.

const PUBLIC = path.join(import.meta.dirname, '../../../src/server/public');
const T = timeline as {
  toBands(points: object[], o?: { gapMs?: number }): Array<Record<string, unknown>>;
  niceTicks(a: number, b: number, n: number): { step: number; ticks: number[] };
  formatTime(ms: number, mode?: string, step?: number): string;
  classColor(label: string, index?: number): string;
  toPoint(p: unknown): unknown;
};

// 0-1.5 s car, 2-3 s truck, 3.5 s car, then a 5 s gap (a stall), then 9-9.5 s truck. Step 0.5 s.
const HAND = [
  { time: 0, label: 'car', score: 0.9, index: 1 },
  { time: 500, label: 'car', score: 0.8, index: 1 },
  { time: 1000, label: 'car', score: 0.7, index: 1 },
  { time: 1500, label: 'car', score: 0.6, index: 1 },
  { time: 2000, label: 'truck', score: 0.55, index: 9 },
  { time: 2500, label: 'truck', score: 0.65, index: 9 },
  { time: 3000, label: 'truck', score: 0.75, index: 9 },
  { time: 3500, label: 'car', score: 0.5, index: 1 },
  { time: 9000, label: 'truck', score: 0.95, index: 9 },
  { time: 9500, label: 'truck', score: 0.85, index: 9 },
];

describe('timeline.js, pure parts', () => {
  it('merges runs of one class into bands that end where the next begins, and stop at a gap', () => {
    expect(T.toBands(HAND).map((b) => [b.label, b.start, b.end, b.first, b.last])).toEqual([
      ['car', 0, 2000, 0, 3],
      ['truck', 2000, 3500, 4, 6],
      // The gap of 5.5 s is more than 4 median steps: the band stops one step after its frame.
      ['car', 3500, 4000, 7, 7],
      ['truck', 9000, 10000, 8, 9],
    ]);
  });

  it('takes the step from distinct times: points arriving in bursts still make whole bands', () => {
    // Pairs delivered in the same millisecond, 400 ms apart.
    const burst = [0, 0, 400, 400, 800, 800].map((time, i) => ({ time, label: i < 4 ? 'a' : 'b', score: 1 }));
    expect(T.toBands(burst).map((b) => [b.label, b.start, b.end])).toEqual([
      ['a', 0, 800],
      ['b', 800, 1200],
    ]);
  });

  it('accepts predictions as they come over the WebSocket or in JSONL, and refuses junk', () => {
    expect(T.toPoint({ ptsMs: 40, top: [{ label: 'cat', score: 0.5, index: 3 }] })).toEqual({
      time: 40,
      label: 'cat',
      score: 0.5,
      index: 3,
    });
    for (const junk of [
      null,
      3,
      {},
      { ptsMs: Number.NaN, label: 'x' },
      { time: 1, top: [] },
      { time: 1, label: 7 },
    ])
      expect(T.toPoint(junk)).toBeUndefined();
  });

  it('picks round tick steps and formats video time and clock time', () => {
    expect(T.niceTicks(0, 10_000, 6)).toEqual({ step: 2000, ticks: [0, 2000, 4000, 6000, 8000, 10_000] });
    expect(T.niceTicks(0, 600, 4).step).toBe(200);
    expect(T.formatTime(65_000)).toBe('1:05');
    expect(T.formatTime(3_725_000)).toBe('1:02:05');
    expect(T.formatTime(1_550, 'relative', 100)).toBe('0:01.6');
    expect(T.formatTime(new Date(2026, 0, 2, 3, 4, 5).getTime(), 'clock')).toBe('03:04:05');
  });

  it('gives a class the same colour every time, distinct by class index', () => {
    expect(T.classColor('truck', 9)).toBe(T.classColor('truck', 9));
    expect(T.classColor('lorry')).toBe(T.classColor('lorry'));
    const ten = new Set(Array.from({ length: 10 }, (_, i) => T.classColor(`c${i}`, i)));
    expect(ten.size).toBe(10);
  });
});

describe.skipIf(!haveChromium)('timeline.js drawn in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function page(width: number): Promise<{ page: Page; errors: string[] }> {
    const p = await browser.newPage({ viewport: { width, height: 300 } });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(String(e)));
    await p.setContent(
      `<!doctype html><meta name="viewport" content="width=device-width"><style>body{margin:8px}${readFileSync(path.join(PUBLIC, 'timeline.css'), 'utf8')}</style><div id="slot"></div>
<script type="module">${readFileSync(path.join(PUBLIC, 'timeline.js'), 'utf8')}
const t = createTimeline({ mode: 'relative' });
document.getElementById('slot').append(t.element);
t.setPoints(${JSON.stringify([...HAND].reverse())});
window.done = true;</script>`,
    );
    await p.waitForFunction('window.done === true');
    return { page: p, errors };
  }

  it('live (clock mode): keeps only the last windowMs of points, so memory stays bounded', async () => {
    const p = await browser.newPage({ viewport: { width: 600, height: 200 } });
    await p.setContent(
      `<!doctype html><div id="slot"></div><script type="module">${readFileSync(path.join(PUBLIC, 'timeline.js'), 'utf8')}
let now = 1_000_000;
// This browser's clock is an hour behind the server's, whose times the points carry.
const t = createTimeline({ mode: 'clock', windowMs: 10_000, now: () => now - 3_600_000 });
document.getElementById('slot').append(t.element);
// 100 s of predictions at 5 per second, alternating class every 2 s, then one hostile label.
for (let i = 0; i < 500; i++) {
  now += 200;
  t.add({ time: now, label: Math.floor(i / 10) % 2 ? 'dog' : 'cat', score: 0.5, index: Math.floor(i / 10) % 2 ? 5 : 3 });
}
now += 200;
t.add({ time: now, label: '<img src=x onerror="window.owned=1">', score: 0.5 });
t.redraw();
window.done = true;</script>`,
    );
    await p.waitForFunction('window.done === true');
    const counts = await p
      .locator('.vt-band')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
    // 10 s at 5 per second, plus the one point before the window whose band reaches into it.
    expect(counts.reduce((a, b) => a + b, 0)).toBe(51);
    expect((await p.locator('.vt-chip').allTextContents()).sort()).toEqual([
      '<img src=x onerror="window.owned=1">',
      'cat',
      'dog',
    ]);
    expect(await p.evaluate('window.owned')).toBeUndefined();
    await p.close();
  });

  for (const width of [1280, 375]) {
    it(`draws bands, an axis, a hover tip and a filter at ${width} px`, async () => {
      const { page: p, errors } = await page(width);
      const bands = await p.locator('.vt-band').evaluateAll((els) =>
        els.map((e) => ({
          label: e.getAttribute('data-label'),
          start: Number(e.getAttribute('data-start')),
          end: Number(e.getAttribute('data-end')),
          x: Number(e.getAttribute('x')),
          w: Number(e.getAttribute('width')),
          fill: e.getAttribute('fill'),
        })),
      );
      expect(bands.map((b) => [b.label, b.start, b.end])).toEqual([
        ['car', 0, 2000],
        ['truck', 2000, 3500],
        ['car', 3500, 4000],
        ['truck', 9000, 10000],
      ]);
      // One scale for all: width in px per ms is the same for every band, and bands are in order.
      const pxPerMs = bands[0]!.w / 2000;
      for (const b of bands) expect(b.w / (b.end - b.start)).toBeCloseTo(pxPerMs, 2);
      expect(bands[0]!.fill).toBe(bands[2]!.fill);
      expect(bands[0]!.fill).not.toBe(bands[1]!.fill);
      // Ticks at round times, placed on the same scale.
      const ticks = await p.locator('.vt-tick').evaluateAll((els) =>
        els.map((e) => ({
          ms: Number(e.getAttribute('data-ms')),
          x: Number(e.querySelector('line')!.getAttribute('x1')),
          text: e.textContent,
        })),
      );
      expect(ticks.length).toBeGreaterThanOrEqual(3);
      expect(ticks[0]).toMatchObject({ ms: 0, text: '0:00' });
      for (const t of ticks) expect(t.x - bands[0]!.x).toBeCloseTo(t.ms * pxPerMs, 1);
      expect(ticks.map((t) => t.text)).toContain('0:10');

      // Hover over the middle of the second truck band: the point at or before the pointer.
      const box = await boxOf(p.locator('.vt-band').nth(3));
      await p.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2);
      await expect.poll(() => p.locator('.vt-tip').textContent()).toBe('truck · 85.0% · 0:09.5');
      await p.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
      await expect.poll(() => p.locator('.vt-tip').textContent()).toBe('truck · 95.0% · 0:09.0');
      // Nothing is shown over the gap.
      const gap = await boxOf(p.locator('.vt-band').nth(2));
      await p.mouse.move(gap.x + gap.width + 10, gap.y + 5);
      await expect.poll(() => p.locator('.vt-tip').isHidden()).toBe(true);

      // The filter: one chip per class, largest share first; pressing truck dims every other band.
      expect(await p.locator('.vt-chip').allTextContents()).toEqual(['car', 'truck']);
      await p.locator('.vt-chip[data-label="truck"]').click();
      expect(
        await p
          .locator('.vt-band:not(.vt-dim)')
          .evaluateAll((e) => e.map((x) => x.getAttribute('data-label'))),
      ).toEqual(['truck', 'truck']);
      expect(await p.locator('.vt-found').textContent()).toBe('truck: 2 times, 2.5 s, first at 0:02');
      expect(await p.locator('.vt-chip[data-label="truck"]').getAttribute('aria-pressed')).toBe('true');
      await p.screenshot({ path: `${SCREENSHOTS}/vitstream-timeline-unit-${width}.png` });
      await p.locator('.vt-chip[data-label="truck"]').click();
      expect(await p.locator('.vt-band.vt-dim').count()).toBe(0);

      const overflow = await p.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow).toBeLessThanOrEqual(0);
      expect(errors).toEqual([]);
      await p.close();
    });
  }
});
