import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, haveChromium, launchChromium, SCREENSHOTS } from '../helpers/chromium.js';
import { type CliProcess, cifarModel, ensureBuilt, startCli } from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';

// The dashboard's per-stream timeline against a real `vitstream serve`: bands appear as
// predictions arrive, and they are the runs of the top-1 classes the page was sent.

if (!haveChromium)
  console.warn(`e2e dashboard timeline test skipped: no Chromium at ${CHROMIUM} (set VITSTREAM_CHROMIUM)`);

const model = cifarModel();
const labels = (JSON.parse(readFileSync(model.file('config.json'), 'utf8')) as { labels: string[] }).labels;
const CLIP = sharedPath('media', 'street_bikes_640x272.mp4');
const ID = 'street_bikes_640x272'; // its stream id: the file's base name
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 30_000, interval: 100 });

describe.skipIf(!haveChromium)('dashboard timeline, in Chromium', () => {
  let serve: CliProcess;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    ensureBuilt();
    serve = startCli(['serve', CLIP, ...model.args, '--realtime', '--loop', '--fps', '5', '--port', '0']);
    // The printed dashboard URL carries serve's own token: without it the socket is refused (401).
    url = (await serve.waitForStderr(/open the dashboard at (http:\/\/\S+\?token=\S+)\n/, 90_000))[1]!;
    browser = await launchChromium();
    // Starting serve (model, ffmpeg) on a busy machine can take a while.
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    serve?.kill();
  });

  it('grows a band per run of top-1 classes as predictions arrive, with hover and filter', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // Every top-1 label the server sends this page, in order.
    const sent: string[] = [];
    page.on('websocket', (ws) =>
      ws.on('framereceived', ({ payload }) => {
        const msg = JSON.parse(String(payload)) as {
          type: string;
          streamId?: string;
          top?: { label: string }[];
        };
        if (msg.type === 'prediction' && msg.streamId === ID) sent.push(msg.top![0]!.label);
      }),
    );
    await page.goto(url);
    const card = page.locator(`.card[data-stream="${ID}"]`);
    const drawn = () =>
      card
        .locator('.vt-band')
        .evaluateAll((els) =>
          els.map(
            (e) => [e.getAttribute('data-label')!, Number(e.getAttribute('data-count'))] as [string, number],
          ),
        );
    const total = async () => (await drawn()).reduce((a, [, n]) => a + n, 0);

    await poll(total).toBeGreaterThan(0);
    const first = await total();
    await poll(total).toBeGreaterThan(first + 5);
    for (const [label] of await drawn()) expect(labels).toContain(label);
    const ticks = await card.locator('.vt-tick text').allTextContents();
    expect(ticks.length).toBeGreaterThan(0);
    for (const t of ticks) expect(t).toMatch(/^\d\d:\d\d:\d\d$/);

    // Hover near the newest end (bands are redrawn as they move, so aim at the plot, not a band):
    // the class there, a score and a clock time.
    const plot = (await card.locator('.vt-svg').boundingBox())!;
    await page.mouse.move(plot.x + plot.width * 0.9, plot.y + 15);
    await poll(() => card.locator('.vt-tip').textContent()).toMatch(
      new RegExp(`^(${labels.join('|')}) · \\d+\\.\\d% · \\d\\d:\\d\\d:\\d\\d$`),
    );
    // The filter: one class stays in colour.
    const label = (await drawn())[0]![0];
    await card.locator(`.vt-chip[data-label="${label}"]`).click();
    const lit = await card
      .locator('.vt-band:not(.vt-dim)')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-label')));
    expect(lit.length).toBeGreaterThan(0);
    expect(new Set(lit)).toEqual(new Set([label]));
    await page.screenshot({
      path: `${SCREENSHOTS}/vitstream-e2e-dashboard-timeline-phone.png`,
      fullPage: true,
    });
    await card.locator(`.vt-chip[data-label="${label}"]`).click();

    // Stop the server: no more predictions. The bands then hold exactly what was sent, run by run
    // (a stall may split one run into two bands of the same class: merged here).
    serve.child.kill('SIGTERM');
    expect((await serve.exited).code).toBe(0);
    await page.waitForSelector('#conn:not([data-state="live"])', { timeout: 10_000 });
    const runs: [string, number][] = [];
    for (const l of sent) {
      const r = runs.at(-1);
      if (r && r[0] === l) r[1]++;
      else runs.push([l, 1]);
    }
    await poll(async () => {
      const merged: [string, number][] = [];
      for (const [l, n] of await drawn()) {
        const r = merged.at(-1);
        if (r && r[0] === l) r[1] += n;
        else merged.push([l, n]);
      }
      return merged;
    }).toEqual(runs);
    expect(errors).toEqual([]);
    await page.close();
  });
});
