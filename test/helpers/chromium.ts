import { existsSync } from 'node:fs';
import { type Browser, chromium, type Locator } from 'playwright-core';
import { expect } from 'vitest';

/** Debian's chromium (VITSTREAM_CHROMIUM elsewhere), driven headless by playwright-core. */
export const CHROMIUM = process.env.VITSTREAM_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = process.env.VITSTREAM_SCREENSHOTS ?? '/tmp';
export const haveChromium = existsSync(CHROMIUM);

/** A headless browser for the dashboard tests: no sandbox (CI runs as root), no GPU, no network chatter. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * The box of an element the page may redraw at any time (the timeline replaces its bands on every
 * resize): a box asked for between finding the old element and its removal comes back null, so ask
 * again until one is measured.
 */
export async function boxOf(
  locator: Locator,
): Promise<{ x: number; y: number; width: number; height: number }> {
  let box: Awaited<ReturnType<Locator['boundingBox']>> = null;
  await expect
    .poll(async () => {
      box = await locator.boundingBox();
      return box;
    })
    .not.toBeNull();
  return box!;
}
