import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root (the folder holding package.json, kernels/ and config/). Found by walking up
 * from this module, because the module lives at src/util (tests) or dist/src/util (built).
 */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'kernels'))) return dir;
    const up = path.dirname(dir);
    if (up === dir)
      throw new Error(`vitstream: package root not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}
