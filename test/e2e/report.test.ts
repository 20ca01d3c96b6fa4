import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boxOf, CHROMIUM, haveChromium, launchChromium, SCREENSHOTS } from '../helpers/chromium.js';
import { cifarModel, ensureBuilt, runCli } from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';

// `vitstream classify … --out x.jsonl --report r.html` on real clips through the CIFAR-10 demo
// checkpoint; the report opened offline in headless Chromium and checked against the JSONL of
// the same run (not against the page's own numbers).

if (!haveChromium)
  console.warn(`e2e report tests skipped: no Chromium at ${CHROMIUM} (set VITSTREAM_CHROMIUM)`);

interface Line {
  streamId: string;
  frame: number;
  ptsMs: number;
  top: { index: number; label: string; score: number }[];
}

const model = cifarModel();
const CLIPS = [
  sharedPath('media', 'parking_cars_768x432.mp4'),
  sharedPath('media', 'airplane_field_640x360.mp4'),
];

/** m:ss.t of a time into the video, written here rather than taken from timeline.js. */
const videoTime = (ms: number) => {
  const tenths = Math.round(ms / 100);
  const s = Math.floor(tenths / 10);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}.${tenths % 10}`;
};

/** Runs of one top-1 class: [label, start, end, frames]; a run ends where the next starts, the last one step on. */
function expectedBands(lines: Line[]): [string, number, number, number][] {
  const steps = lines.slice(1).map((l, i) => l.ptsMs - lines[i]!.ptsMs);
  const step = [...steps].sort((a, b) => a - b)[Math.floor(steps.length / 2)]!;
  // The clips are sampled at 2 fps: no gap, so every band ends where the next one starts.
  expect(Math.max(...steps)).toBeLessThanOrEqual(4 * step);
  const runs: [string, number, number, number][] = [];
  for (const l of lines) {
    const last = runs.at(-1);
    if (last && last[0] === l.top[0]!.label) last[3]++;
    else {
      if (last) last[2] = l.ptsMs;
      runs.push([l.top[0]!.label, l.ptsMs, Number.NaN, 1]);
    }
  }
  runs.at(-1)![2] = lines.at(-1)!.ptsMs + step;
  return runs;
}

describe.skipIf(!haveChromium)('classify --report: the HTML report in Chromium', () => {
  let tmp: string;
  let report: string;
  let byStream: Map<string, Line[]>;
  let browser: Browser;

  beforeAll(async () => {
    ensureBuilt();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-e2e-report-'));
    report = path.join(tmp, 'report.html');
    const jsonl = path.join(tmp, 'run.jsonl');
    const r = await runCli(
      ['classify', ...CLIPS, ...model.args, '--fps', '2', '--out', jsonl, '--report', report],
      { timeoutMs: 120_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    byStream = new Map();
    for (const text of readFileSync(jsonl, 'utf8').trim().split('\n')) {
      const l = JSON.parse(text) as Line;
      byStream.set(l.streamId, [...(byStream.get(l.streamId) ?? []), l]);
    }
    for (const lines of byStream.values()) lines.sort((a, b) => a.ptsMs - b.ptsMs);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** The report from file://, every other request refused and recorded: it must need none. */
  async function openReport(width: number): Promise<{ page: Page; errors: string[]; requests: string[] }> {
    const context = await browser.newContext({ viewport: { width, height: 900 }, offline: true });
    const requests: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
      requests.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(pathToFileURL(report).href);
    await page.waitForSelector('.vt-band');
    return { page, errors, requests };
  }

  for (const width of [1280, 375]) {
    it(`at ${width} px: bands, axis, hover, filter, thumbnails and table match the run's JSONL`, async () => {
      const { page, errors, requests } = await openReport(width);
      expect(byStream.size).toBe(CLIPS.length);
      for (const [id, lines] of byStream) {
        const section = page.locator(`section.file[data-stream="${id}"]`);
        const expected = expectedBands(lines);
        const bands = await section.locator('.vt-band').evaluateAll((els) =>
          els.map((e) => ({
            label: e.getAttribute('data-label')!,
            start: Number(e.getAttribute('data-start')),
            end: Number(e.getAttribute('data-end')),
            count: Number(e.getAttribute('data-count')),
            x: Number(e.getAttribute('x')),
            w: Number(e.getAttribute('width')),
          })),
        );
        expect(bands.map((b) => [b.label, b.start, b.end, b.count])).toEqual(expected);
        // More than one class, or the filter below would prove nothing.
        expect(new Set(expected.map((b) => b[0])).size).toBeGreaterThan(1);
        // Bands tile the track left to right on one time scale.
        const pxPerMs = bands.reduce((a, b) => a + b.w, 0) / (bands.at(-1)!.end - bands[0]!.start);
        for (const b of bands)
          expect(b.x - bands[0]!.x).toBeCloseTo((b.start - bands[0]!.start) * pxPerMs, 0);

        // The axis: round seconds from 0:00, placed on the same scale, up to the end of the video.
        const ticks = await section.locator('.vt-tick').evaluateAll((els) =>
          els.map((e) => ({
            ms: Number(e.getAttribute('data-ms')),
            x: Number(e.querySelector('line')!.getAttribute('x1')),
            text: e.textContent!,
          })),
        );
        expect(ticks.length).toBeGreaterThanOrEqual(3);
        expect(ticks[0]!.text).toBe('0:00');
        for (const t of ticks) {
          expect(t.ms % 1000).toBe(0);
          expect(t.text).toBe(videoTime(t.ms).slice(0, -2));
          expect(t.x - bands[0]!.x).toBeCloseTo((t.ms - bands[0]!.start) * pxPerMs, 0);
          expect(t.ms).toBeLessThanOrEqual(bands.at(-1)!.end);
        }

        // Hover just inside each of the first bands: the tip names that band's first frame.
        await section.locator('.vt-plot').scrollIntoViewIfNeeded();
        for (const [k, [label, start]] of expected.slice(0, 4).entries()) {
          const line = lines.find((l) => l.ptsMs === start)!;
          const box = await boxOf(section.locator('.vt-band').nth(k));
          await page.mouse.move(box.x + Math.min(2, box.width / 3), box.y + box.height / 2);
          await expect
            .poll(() => section.locator('.vt-tip').textContent())
            .toBe(`${label} · ${(line.top[0]!.score * 100).toFixed(1)}% · ${videoTime(start)}`);
        }
        await page.mouse.move(0, 0);

        // The filter: pressing a class keeps exactly that class's runs in full colour.
        const rare = expected.at(-1)![0] === expected[0]![0] ? expected[1]![0] : expected.at(-1)![0];
        await section.locator(`.vt-chip[data-label="${rare}"]`).click();
        const lit = await section
          .locator('.vt-band:not(.vt-dim)')
          .evaluateAll((els) =>
            els.map((e) => [e.getAttribute('data-label'), Number(e.getAttribute('data-start'))]),
          );
        expect(lit).toEqual(expected.filter((b) => b[0] === rare).map((b) => [rare, b[1]]));
        expect(await section.locator('.vt-found').textContent()).toMatch(
          new RegExp(
            `^${rare}: ${lit.length} times?, [\\d.]+ s, first at ${videoTime(lit[0]![1] as number).slice(0, -2)}$`,
          ),
        );
        if (id === CLIPS[0])
          await page.screenshot({
            path: `${SCREENSHOTS}/vitstream-e2e-report-filter-${width}.png`,
            fullPage: true,
          });
        await section.locator(`.vt-chip[data-label="${rare}"]`).click();
        expect(await section.locator('.vt-band.vt-dim').count()).toBe(0);

        // A thumbnail at the first frame and at every class change, decoded by the browser.
        const changes = lines.filter((l, i) => i === 0 || l.top[0]!.label !== lines[i - 1]!.top[0]!.label);
        const thumbs = section.locator('figure.thumb');
        expect(
          await thumbs.evaluateAll((els) =>
            els.map((e) => [Number(e.getAttribute('data-frame')), e.getAttribute('data-label')]),
          ),
        ).toEqual(changes.slice(0, 24).map((l) => [l.frame, l.top[0]!.label]));
        for (const w of await thumbs
          .locator('img')
          .evaluateAll((els) => els.map((e) => (e as HTMLImageElement).naturalWidth)))
          expect(w).toBeGreaterThan(0);

        // The summary: frames, duration and the classes seen, from the JSONL.
        expect(await section.locator('.frames').textContent()).toBe(String(lines.length));
        expect(await section.locator('.duration').textContent()).toBe(
          `${((bands.at(-1)!.end - bands[0]!.start) / 1000).toFixed(1)} s`,
        );
        const seen = new Set(lines.map((l) => l.top[0]!.label));
        const rows = await section
          .locator('table.classes tbody tr')
          .evaluateAll((els) =>
            els.map((e) => [e.getAttribute('data-label'), Number(e.querySelectorAll('td')[3]!.textContent)]),
          );
        expect(new Set(rows.map((r) => r[0]))).toEqual(seen);
        for (const [label, frames] of rows)
          expect(frames).toBe(lines.filter((l) => l.top[0]!.label === label).length);
      }
      const overflow = await page.evaluate<number>(
        'document.documentElement.scrollWidth - window.innerWidth',
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await page.screenshot({ path: `${SCREENSHOTS}/vitstream-e2e-report-${width}.png`, fullPage: true });
      expect(requests).toEqual([]);
      expect(errors).toEqual([]);
      await page.context().close();
    });
  }

  it('a run that fails leaves an existing report as it was', async () => {
    const old = path.join(tmp, 'old.html');
    writeFileSync(old, 'precious');
    const r = await runCli([
      'classify',
      CLIPS[0]!,
      '--model',
      model.dir,
      '--weights',
      path.join(tmp, 'none.safetensors'),
      '--report',
      old,
    ]);
    expect(r.code).toBe(2);
    expect(readFileSync(old, 'utf8')).toBe('precious');
  });
});
