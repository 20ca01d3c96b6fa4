import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

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
