import { execFileSync } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Prediction } from '../../src/predictions.js';
import { createServer, type VitstreamServer } from '../../src/server/index.js';
import { CHROMIUM, haveChromium, launchChromium, SCREENSHOTS as SHOTS } from '../helpers/chromium.js';
import { sharedPath } from '../helpers/shared.js';

if (!haveChromium)
  console.warn(`dashboard tests skipped: no Chromium at ${CHROMIUM} (set VITSTREAM_CHROMIUM)`);

const LABELS: Record<string, string[]> = {
  'front-door': ['water bottle', 'pop bottle, soda bottle', 'water jug', 'beer bottle', 'wine bottle'],
  'parking-lot': ['parking meter', 'sports car, sport car', 'convertible', 'car wheel', 'minivan'],
  'rtsp://10.0.0.12:554/stream1': [
    'street sign',
    'traffic light, traffic signal',
    'trolleybus',
    'cab, taxi',
    'mailbag',
  ],
};
/** A real frame per stream for the thumbnails (the shared sample footage), as the classifier sees it. */
const CLIPS: Record<string, [string, number]> = {
  'front-door': ['bottles_640x360.mp4', 5],
  'parking-lot': ['parking_cars_768x432.mp4', 12],
  'rtsp://10.0.0.12:554/stream1': ['street_bikes_640x272.mp4', 3],
};

function fakePrediction(streamId: string, frame: number, labels: string[]): Prediction {
  const raw = labels.map((_, i) => Math.exp(-i * 1.1));
  const total = raw.reduce((a, b) => a + b, 0) * 1.15;
  return {
    streamId,
    frame,
    ptsMs: frame * 40,
    receivedAtMs: Date.now() - 35,
    latencyMs: 35 + (frame % 10),
    top: labels.map((label, i) => ({ label, index: 100 + i, score: raw[i]! / total })),
  };
}

function frameRgb(streamId: string): { rgb: Uint8Array; width: number; height: number } {
  const [clip, atS] = CLIPS[streamId]!;
  const args = ['-v', 'error', '-ss', String(atS), '-i', sharedPath('media', clip), '-frames:v', '1'];
  const rgb = execFileSync('ffmpeg', [
    ...args,
    '-vf',
    'scale=224:224',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-',
  ]);
  return { rgb, width: 224, height: 224 };
}

describe.skipIf(!haveChromium)('dashboard in Chromium', () => {
  let server: VitstreamServer;
  let browser: Browser;
  const frames = new Map<string, ReturnType<typeof frameRgb>>();

  beforeAll(async () => {
    for (const id of Object.keys(LABELS)) frames.set(id, frameRgb(id));
    // The test publishes its own stats; the server's own (from PipelineStats) would overwrite them.
    server = await createServer({
      port: 0,
      token: 'dash-token',
      thumbnail: { fps: 0 },
      statsProvider: () => undefined,
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  function publishAll(frame: number, labelsFor = (id: string) => LABELS[id]!): void {
    for (const id of Object.keys(LABELS)) {
      server.hub.publish(fakePrediction(id, frame, labelsFor(id)), { thumbnail: frames.get(id)! });
    }
    server.hub.publishStats({
      streams: {
        'front-door': { fpsIn: 25, fpsClassified: 5, latencyMs: 38, dropped: 0, state: 'live' },
        'parking-lot': { fpsIn: 30, fpsClassified: 6, latencyMs: 41, dropped: 12, state: 'live' },
        'rtsp://10.0.0.12:554/stream1': {
          fpsIn: 0,
          fpsClassified: 0,
          latencyMs: 0,
          dropped: 3,
          state: 'reconnecting',
        },
      },
      engine: { utilization: 0.42, batchLatencyMs: 18.5, batchSize: 8 },
    });
  }

  async function openPage(width: number, height: number, token = 'dash-token'): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${server.url}?token=${token}`);
    (page as unknown as { errors: string[] }).errors = errors;
    return page;
  }

  // Waits for the page to catch up; generous because a loaded 2-core CI machine can stall Chromium.
  const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 15_000, interval: 50 });
  const card = (id: string): string => `.card[data-stream="${id}"]`;

  it('shows a card per stream with labels, scores, stats and a thumbnail, and updates them live', async () => {
    const page = await openPage(1280, 800);
    await page.waitForSelector('#conn[data-state="live"]');
    // The page subscribes after connecting; publish until its subscription has landed.
    await poll(() => server.hub.clients().some((c) => c.subscriptions.includes('*'))).toBe(true);
    publishAll(1);
    server.hub.publishEvent({
      kind: 'reconnecting',
      level: 'warn',
      streamId: 'rtsp://10.0.0.12:554/stream1',
      message: 'connection refused, retry in 2 s',
    });

    for (const id of Object.keys(LABELS)) await page.waitForSelector(`${card(id)} .row .label`);
    // A stream that is down says why on its card; a live one shows no such line.
    const down = page.locator(card('rtsp://10.0.0.12:554/stream1')).locator('.problem');
    await poll(() => down.isVisible()).toBe(true);
    expect(await down.textContent()).toBe('connection refused, retry in 2 s');
    expect(await page.locator(card('front-door')).locator('.problem').isVisible()).toBe(false);
    const front = page.locator(card('front-door'));
    await poll(() => front.locator('.row .label').allTextContents()).toEqual(LABELS['front-door']);
    const scores = await front.locator('.row .score').allTextContents();
    const expected = fakePrediction('front-door', 1, LABELS['front-door']!).top.map((t) => t.score);
    expect(scores.map((s) => Number.parseFloat(s) / 100)).toEqual(expected.map((v) => expect.closeTo(v, 2)));
    const barWidths = await front
      .locator('.row .fill')
      .evaluateAll((els) => els.map((e) => (e as HTMLElement).style.width));
    expect(barWidths.map((w) => Number.parseFloat(w) / 100)).toEqual(
      expected.map((v) => expect.closeTo(v, 4)),
    );
    await poll(() => front.locator('.s-fps-in').textContent()).toBe('25 fps');
    expect(await front.locator('.s-dropped').textContent()).toBe('0');
    expect(await page.locator(card('parking-lot')).locator('.s-dropped').textContent()).toBe('12');
    expect(await page.locator(card('rtsp://10.0.0.12:554/stream1')).locator('.state').textContent()).toBe(
      'reconnecting',
    );
    expect(await page.locator('#sum-engine').textContent()).toBe('42% busy');
    const thumb = front.locator('.thumb img');
    expect(await thumb.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    await poll(() => thumb.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(64);
    expect(await page.locator('#events-count').textContent()).toBe('1');

    // A new prediction replaces the labels.
    publishAll(2, (id) => [...LABELS[id]!].reverse());
    await expect
      .poll(() => front.locator('.row .label').first().textContent())
      .toBe(LABELS['front-door']!.at(-1));
    expect(await front.locator('.s-frame').textContent()).toBe('2');
    publishAll(3);
    await poll(() => front.locator('.row .label').first().textContent()).toBe(LABELS['front-door']![0]);

    await page.locator('#events-box summary').click();
    await page.screenshot({ path: `${SHOTS}/vitstream-dashboard-desktop.png`, fullPage: true });
    expect((page as unknown as { errors: string[] }).errors).toEqual([]);
    await page.close();
  });

  it('fits a 375 px phone screen without horizontal scrolling', async () => {
    const page = await openPage(375, 740);
    await page.waitForSelector('#conn[data-state="live"]');
    await poll(() => server.hub.clientCount).toBeGreaterThan(0);
    await poll(() => server.hub.clients().every((c) => c.subscriptions.includes('*'))).toBe(true);
    publishAll(4);
    for (const id of Object.keys(LABELS)) await page.waitForSelector(`${card(id)} .row .label`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    const cardBox = await page.locator(card('front-door')).boundingBox();
    expect(cardBox!.x).toBeGreaterThanOrEqual(0);
    expect(cardBox!.x + cardBox!.width).toBeLessThanOrEqual(375);
    await page.screenshot({ path: `${SHOTS}/vitstream-dashboard-phone.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: `${SHOTS}/vitstream-dashboard-phone-dark.png` });
    await page.close();
  });

  it('reconnects by itself after the server drops the socket', async () => {
    const page = await openPage(1024, 700);
    await page.waitForSelector('#conn[data-state="live"]');
    server.hub.disconnectAll(1012, 'restarting');
    await page.waitForSelector('#conn[data-state="down"]');
    await page.waitForSelector('#conn[data-state="live"]');
    await poll(
      () =>
        server.hub.clients().length > 0 && server.hub.clients().every((c) => c.subscriptions.includes('*')),
    ).toBe(true);
    publishAll(99);
    await poll(() => page.locator(card('front-door')).locator('.s-frame').textContent()).toBe('99');
    await page.close();
  });

  it('says it cannot connect when the token is wrong', async () => {
    const page = await openPage(1024, 700, 'wrong');
    await page.waitForSelector('#conn[data-state="down"]');
    // The advice stays through the retries: the next try starts 0.4-0.6 s after the close, and on a busy machine
    // the text may already be the "reconnecting" line when it is read.
    expect(await page.locator('#conn-text').textContent()).toMatch(/check the token/);
    // Each "reconnecting" line lasts only as long as the refused handshake, so record every text the line shows.
    await page.evaluate(() => {
      const el = document.getElementById('conn-text')!;
      const seen: string[] = [];
      (window as unknown as { connTexts: string[] }).connTexts = seen;
      new MutationObserver(() => seen.push(el.textContent ?? '')).observe(el, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    await poll(() =>
      page.evaluate(() =>
        (window as unknown as { connTexts: string[] }).connTexts.some((t) => t.startsWith('reconnecting')),
      ),
    ).toBe(true);
    const texts = await page.evaluate(() => (window as unknown as { connTexts: string[] }).connTexts);
    expect(texts.filter((t) => t.startsWith('reconnecting')).every((t) => /check the token/.test(t))).toBe(
      true,
    );
    await page.close();
  });

  it('shows the whole token hint on a 375 px phone, wrapped rather than cut', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 740 } });
    await page.goto(server.url); // no ?token=
    await page.waitForSelector('#conn[data-state="down"]');
    const text = page.locator('#conn-text');
    expect(await text.textContent()).toContain('add ?token=… to this URL');
    const fits = await text.evaluate((e) => ({
      cut: e.scrollWidth - e.clientWidth,
      right: e.getBoundingClientRect().right,
    }));
    expect(fits.cut).toBeLessThanOrEqual(0);
    expect(fits.right).toBeLessThanOrEqual(375);
    await page.screenshot({ path: `${SHOTS}/vitstream-dashboard-phone-token-hint.png` });
    await page.close();
  });

  it('an ended stream keeps its last image, labels, frame and totals for a viewer who comes later', async () => {
    const id = 'finished-file';
    const labels = LABELS['front-door']!;
    // Published before the page opens (nobody subscribed to it yet).
    server.hub.publish(fakePrediction(id, 1, labels), { thumbnail: frames.get('front-door')! });
    server.hub.publish(fakePrediction(id, 89, labels));
    const page = await openPage(1280, 800);
    await page.waitForSelector('#conn[data-state="live"]');
    await poll(() => server.hub.clients().some((c) => c.subscriptions.includes('*'))).toBe(true);
    server.hub.publishStats({
      streams: {
        [id]: { fpsIn: 0, fpsClassified: 0, dropped: 0, framesIn: 89, classified: 89, state: 'ended' },
      },
    });
    const c = page.locator(card(id));
    await poll(() => c.locator('.state').textContent()).toBe('ended');
    await poll(() => c.locator('.s-frame').textContent()).toBe('89');
    expect(await c.locator('.row .label').allTextContents()).toEqual(labels);
    expect(await c.locator('.s-total').textContent()).toBe('89');
    expect(await c.locator('.s-fps-in').textContent()).toBe('–');
    expect(await c.locator('.thumb img').getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    expect(await c.locator('.thumb-empty').isVisible()).toBe(false);
    await c.screenshot({ path: `${SHOTS}/vitstream-dashboard-ended-card.png` });
    expect((page as unknown as { errors: string[] }).errors).toEqual([]);
    await page.close();
  });
});
