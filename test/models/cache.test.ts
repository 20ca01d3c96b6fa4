import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { checkCacheRoot, makeCacheDir } from '../../src/models/cache.js';
import { fetchWeights } from '../../src/models/download.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-cache-'));
  writeFileSync(path.join(tmp, 'a-file'), 'x');
  symlinkSync(path.join(tmp, 'gone'), path.join(tmp, 'dangling'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const refusal = (root: string) => {
  try {
    checkCacheRoot(root);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error(`${root} was accepted`);
};

describe('the cache folder (issue #20 item 6)', () => {
  it('refuses system folders, paths through a file and dangling symlinks, in one line that names the folder', () => {
    expect(refusal('/proc/x')).toMatch(/^cache folder \/proc\/x: \/proc is a system folder/);
    expect(refusal('/sys/kernel/x')).toMatch(/\/sys is a system folder/);
    expect(refusal('/dev/shm/x')).toMatch(/\/dev is a system folder/);
    expect(refusal(path.join(tmp, 'a-file', 'cache'))).toMatch(/a-file is a file, not a folder/);
    expect(refusal(path.join(tmp, 'dangling', 'cache'))).toMatch(
      /dangling is a symbolic link to .*gone, which does not exist/,
    );
    for (const root of ['/proc/x', path.join(tmp, 'a-file', 'c'), path.join(tmp, 'dangling')])
      expect(refusal(root)).not.toMatch(/\n/);
  });

  it('accepts a folder that does not exist yet, and makes it one level at a time', () => {
    const root = path.join(tmp, 'new', 'deeper', 'cache');
    checkCacheRoot(root);
    makeCacheDir(path.join(root, 'weights', 'x'), root);
    checkCacheRoot(root);
  });

  it.skipIf(process.getuid?.() === 0)('a read-only folder: one line naming what could not be created', () => {
    const ro = path.join(tmp, 'read-only');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    expect(() => makeCacheDir(path.join(ro, 'cache', 'weights'), ro)).toThrow(
      /cache folder .*read-only: cannot create .*read-only\/cache \(permission denied\)/,
    );
  });

  it('fetchWeights checks the folder before anything else (no network, no hang under /proc)', async () => {
    const url = `https://example.invalid/model.safetensors#sha256=${'0'.repeat(64)}`;
    for (const cacheDir of ['/proc/x', path.join(tmp, 'a-file', 'c'), path.join(tmp, 'dangling')])
      await expect(fetchWeights(url, { cacheDir })).rejects.toThrow(/^cache folder /);
  });
});
