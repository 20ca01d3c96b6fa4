import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';

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
      throw new ConfigError(
        `package root (package.json and kernels/) not found above ${fileURLToPath(import.meta.url)}`,
        {
          input: fileURLToPath(import.meta.url),
        },
      );
    dir = up;
  }
}

/** The version in package.json, read at run time so that it cannot drift from the package (src or dist). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  if (typeof pkg.version !== 'string')
    throw new ConfigError(`${path.join(packageRoot(), 'package.json')}: no "version" string`, {
      input: 'package.json',
    });
  return pkg.version;
}
