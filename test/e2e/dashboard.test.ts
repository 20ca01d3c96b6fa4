import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, haveChromium, launchChromium, SCREENSHOTS as SHOTS } from '../helpers/chromium.js';
import { type CliProcess, cifarModel, ensureBuilt, startCli } from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';

// The dashboard in headless Chromium against a real `vitstream serve`: two clips played as live
// feeds (looping) through the CIFAR-10 checkpoint. Nothing is published by the test itself.

if (!haveChromium)
  console.warn(`e2e dashboard tests skipped: no Chromium at ${CHROMIUM} (set VITSTREAM_CHROMIUM)`);

const model = cifarModel();
const labels = (JSON.parse(readFileSync(model.file('config.json'), 'utf8')) as { labels: string[] }).labels;
const CLIPS = [sharedPath('media', 'bottles_640x360.mp4'), sharedPath('media', 'street_bikes_640x272.mp4')];
const card = (id: string) => `.card[data-stream="${id}"]`;
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 20_000, interval: 100 });

describe.skipIf(!haveChromium)('dashboard of a running vitstream serve, in Chromium', () => {
  let serve: CliProcess;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    ensureBuilt();
    serve = startCli(['serve', ...CLIPS, ...model.args, '--realtime', '--loop', '--fps', '5', '--port', '0']);
    // No --token: the dashboard is opened as a user would, by the printed URL that carries serve's own token.
    // Generous: serve's start (model load, batching measured) took over 30 s on a busy machine.
    url = (await serve.waitForStderr(/open the dashboard at (http:\/\/\S+\?token=\S+)\n/, 150_000))[1]!;
    browser = await launchChromium();
  }, 200_000);

  afterAll(async () => {
    await browser?.close();
    serve?.kill();
  });

  async function openPage(width: number, height: number): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width, height } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(url);
    return { page, errors };
  }

  const frameOf = async (page: Page, id: string) =>
    Number(((await page.locator(`${card(id)} .s-frame`).textContent()) ?? '').replace(/[^\d]/g, ''));

  it('shows a card per feed with CIFAR labels, scores, a thumbnail and stats, updating live', async () => {
    const { page, errors } = await openPage(1280, 800);
    await page.waitForSelector('#conn[data-state="live"]');
    for (const id of CLIPS) await page.waitForSelector(`${card(id)} .row .label`, { timeout: 20_000 });
    await poll(() => page.locator('#sum-streams').textContent()).toBe('2');

    for (const id of CLIPS) {
      const c = page.locator(card(id));
      expect(await c.locator('.stream-id').textContent()).toBe(id);
      const shown = await c.locator('.row .label').allTextContents();
      expect(shown.length).toBeGreaterThan(0);
      for (const l of shown) expect(labels).toContain(l);
      const scores = (await c.locator('.row .score').allTextContents()).map(
        (s) => Number.parseFloat(s) / 100,
      );
      for (const s of scores) expect(s).toBeGreaterThan(0);
      expect(scores.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1.01);
      for (let i = 1; i < scores.length; i++) expect(scores[i]!).toBeLessThanOrEqual(scores[i - 1]!);
      // A thumbnail of the frame as classified (PNG data URL), decoded by the browser.
      const img = c.locator('.thumb img');
      await poll(() => img.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
      await poll(() =>
        img.evaluate((e) => (e as unknown as { naturalWidth: number }).naturalWidth),
      ).toBeGreaterThan(0);
      expect(await img.isVisible()).toBe(true);
      // Stats from the server's own pipeline counters.
      await poll(async () =>
        Number.parseFloat((await c.locator('.s-fps-in').textContent()) ?? ''),
      ).toBeGreaterThan(0);
      await poll(async () =>
        Number.parseFloat((await c.locator('.s-fps-cls').textContent()) ?? ''),
      ).toBeGreaterThan(0);
      await poll(() => c.locator('.s-latency').textContent()).toMatch(/\d+ (ms|s)$/);
      expect(await c.locator('.state').textContent()).toBe('live');
    }
    // It keeps moving: the frame shown advances on both cards.
    const before = await Promise.all(CLIPS.map((id) => frameOf(page, id)));
    for (const [i, id] of CLIPS.entries()) await poll(() => frameOf(page, id)).not.toBe(before[i]);
    expect(await page.locator('#sum-engine').textContent()).toMatch(/% busy$/);
    await page.screenshot({ path: `${SHOTS}/vitstream-e2e-dashboard-desktop.png`, fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('fits a 375 px phone screen', async () => {
    const { page, errors } = await openPage(375, 740);
    for (const id of CLIPS)
      await page.waitForSelector(`${card(id)} .thumb img[src^="data:image/png"]`, { timeout: 20_000 });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    for (const id of CLIPS) {
      const box = (await page.locator(card(id)).boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(375);
    }
    await page.screenshot({ path: `${SHOTS}/vitstream-e2e-dashboard-phone.png`, fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('tells the viewer when the server goes away (SIGTERM)', async () => {
    const { page } = await openPage(1024, 700);
    await page.waitForSelector('#conn[data-state="live"]');
    serve.child.kill('SIGTERM');
    expect((await serve.exited).code).toBe(0);
    await page.waitForSelector('#conn:not([data-state="live"])', { timeout: 10_000 });
    await page.close();
  });
});
