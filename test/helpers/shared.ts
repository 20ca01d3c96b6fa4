import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared folder beside the checkout (fixtures, models, media), or VITSTREAM_SHARED. */
export const sharedDir =
  process.env.VITSTREAM_SHARED ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');

export function sharedPath(...parts: string[]): string {
  const p = path.join(sharedDir, ...parts);
  if (!existsSync(p)) throw new Error(`test input missing: ${p} (set VITSTREAM_SHARED to the shared folder)`);
  return p;
}
