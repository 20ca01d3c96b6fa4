import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DownloadError } from '../../src/errors.js';
import { cacheRoot } from '../../src/models/cache.js';
import type { CatalogEntry } from '../../src/models/catalog.js';
import { type DownloadProgress, fetchWeights, targetFor } from '../../src/models/download.js';
import { sharedPath } from '../helpers/shared.js';
import { FileServer } from './fileServer.js';

const FIXTURES = sharedPath('fixtures', 'vit-tiny-test');
const FILE = 'weights.safetensors';
// Hashes computed here from the fixture files themselves: an independent check of what the downloader verifies.
const bytes = readFileSync(path.join(FIXTURES, FILE));
const SHA = createHash('sha256').update(bytes).digest('hex');
const OTHER_SHA = createHash('sha256')
  .update(readFileSync(path.join(FIXTURES, 'weights.npz')))
  .digest('hex');

let server: FileServer;
let base: string;
let cacheDir: string;

beforeAll(async () => {
  server = new FileServer(FIXTURES);
  base = await server.start();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(async () => {
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'vitstream-dl-'));
  server.hits.length = 0;
  server.drops = 0;
});
afterEach(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

const url = (mode: string, sha: string | null = SHA) =>
  `${base}/${mode}/${FILE}${sha ? `#sha256=${sha}` : ''}`;
/** Cuts the held /drop/ connection once the client has written `size` bytes to its .part file. */
async function cutWhenStored(part: string, size: number): Promise<void> {
  await vi.waitFor(
    async () => {
      expect((await stat(part)).size).toBe(size);
    },
    { timeout: 10_000, interval: 5 },
  );
  server.cut();
}
const filesIn = async (dir: string) => (existsSync(dir) ? readdir(dir) : []);

describe('fetchWeights', () => {
  it('downloads into the cache with the right bytes and reports progress', async () => {
    const seen: DownloadProgress[] = [];
    const p = await fetchWeights(url('ok'), { cacheDir, onProgress: (x) => seen.push(x) });
    expect(p.startsWith(cacheDir)).toBe(true);
    expect(path.basename(p)).toBe(FILE);
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
    expect(seen.at(-1)).toMatchObject({ received: bytes.length, total: bytes.length });
    const names = await filesIn(path.dirname(p));
    expect(names.filter((n) => n.endsWith('.part') || n.endsWith('.lock'))).toEqual([]);
  });

  it('does not download again when the file is cached', async () => {
    const a = await fetchWeights(url('ok'), { cacheDir });
    const b = await fetchWeights(url('ok'), { cacheDir });
    expect(b).toBe(a);
    expect(server.hitsFor(FILE)).toHaveLength(1);
  });

  it('re-downloads a cached file that no longer matches its hash', async () => {
    const p = await fetchWeights(url('ok'), { cacheDir });
    await writeFile(p, Buffer.from('damaged'));
    await fetchWeights(url('ok'), { cacheDir });
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
    expect(server.hitsFor(FILE)).toHaveLength(2);
  });

  it('keeps a .part after a dropped connection and resumes it with a Range request', async () => {
    server.drops = 1;
    server.dropAfter = 100_000;
    const dest = targetFor(url('drop'), { cacheDir }).dest;
    const pending = fetchWeights(url('drop'), { cacheDir, retries: 0 }).catch((e) => e);
    await cutWhenStored(`${dest}.part`, 100_000);
    const err = await pending;
    expect(err).toBeInstanceOf(DownloadError);
    expect(String(err.message)).toMatch(/interrupted/);
    expect(existsSync(dest)).toBe(false);
    const kept = (await stat(`${dest}.part`)).size;
    expect(kept).toBe(100_000);

    const p = await fetchWeights(url('drop'), { cacheDir, retries: 0 });
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
    const hits = server.hitsFor(FILE);
    expect(hits).toHaveLength(2);
    expect(hits[1]).toMatchObject({ range: `bytes=${kept}-`, status: 206 });
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('resumes within one call when retries are allowed', async () => {
    server.drops = 2;
    server.dropAfter = 50_000;
    const part = `${targetFor(url('drop'), { cacheDir }).dest}.part`;
    const pending = fetchWeights(url('drop'), { cacheDir, retryDelayMs: 1 });
    await cutWhenStored(part, 50_000);
    await cutWhenStored(part, 100_000);
    const p = await pending;
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
    const hits = server.hitsFor(FILE);
    expect(hits.map((h) => [h.status, h.range])).toEqual([
      [200, undefined],
      [206, 'bytes=50000-'],
      [206, 'bytes=100000-'],
    ]);
  });

  it('restarts from zero when the server ignores Range, discarding the old .part', async () => {
    const dest = targetFor(url('norange'), { cacheDir }).dest;
    await mkdir(path.dirname(dest), { recursive: true });
    // A prefix that is not the file's: if it were kept, the result could not match.
    await writeFile(`${dest}.part`, Buffer.alloc(1000, 0xab));
    const p = await fetchWeights(url('norange'), { cacheDir });
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
    expect(server.hitsFor(FILE)).toEqual([expect.objectContaining({ range: 'bytes=1000-', status: 200 })]);
  });

  it('starts over once when a resumed file fails verification (a damaged .part)', async () => {
    const dest = targetFor(url('ok'), { cacheDir }).dest;
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(`${dest}.part`, Buffer.alloc(1000, 0xab));
    const p = await fetchWeights(url('ok'), { cacheDir });
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
    expect(server.hitsFor(FILE).map((h) => [h.status, h.range])).toEqual([
      [206, 'bytes=1000-'],
      [200, undefined],
    ]);
  });

  it('finishes a .part that already holds the whole file (server answers 416)', async () => {
    const dest = targetFor(url('ok'), { cacheDir }).dest;
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(`${dest}.part`, bytes);
    const p = await fetchWeights(url('ok'), { cacheDir });
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
    expect(server.hitsFor(FILE).map((h) => h.status)).toEqual([416]);
  });

  it('rejects a wrong checksum, naming URL and both hashes, and leaves no file behind', async () => {
    const bad = url('ok', OTHER_SHA);
    const dest = targetFor(bad, { cacheDir }).dest;
    const err = await fetchWeights(bad, { cacheDir }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toContain(`${base}/ok/${FILE}`);
    expect(err.message).toContain(OTHER_SHA);
    expect(err.message).toContain(SHA);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(existsSync(`${dest}.lock`)).toBe(false);
  });

  it('explains how to pass a local file when the host cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await fetchWeights(`http://127.0.0.1:${port}/ok/${FILE}#sha256=${SHA}`, { cacheDir }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(err.message).toMatch(/offline/);
    expect(err.message).toContain(`--weights /path/to/${FILE}`);
    expect(err.message).toContain(`http://127.0.0.1:${port}/ok/${FILE}`);
  });

  it('a URL fetch itself refuses (a blocked port) is a DownloadError naming why, not a TypeError', async () => {
    // Port 1 is on the Fetch standard's list of bad ports: no connection is ever tried.
    const err = await fetchWeights(`http://127.0.0.1:1/ok/${FILE}#sha256=${SHA}`, { cacheDir }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toContain('127.0.0.1:1 (bad port)');
    expect(err.message).toContain(`--weights /path/to/${FILE}`);
  });

  it('names an unreachable host once when several of its URLs failed (issue #25 item 4)', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const entry = {
      id: 'test/two-mirrors',
      urls: [`http://127.0.0.1:${port}/a/${FILE}`, `http://127.0.0.1:${port}/b/${FILE}`],
      fileName: FILE,
      sha256: SHA,
      sizeBytes: null,
    } as unknown as CatalogEntry;
    const err = await fetchWeights(entry, { cacheDir }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message.split(`127.0.0.1:${port} (ECONNREFUSED)`)).toHaveLength(2);
  });

  it('treats a connection that goes silent as interrupted', async () => {
    const err = await fetchWeights(url('stall'), { cacheDir, retries: 0, idleTimeoutMs: 200 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/interrupted.*timeout/);
  });

  it('follows redirects', async () => {
    const p = await fetchWeights(url('redirect'), { cacheDir });
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
    expect(server.hits.map((h) => h.path)).toEqual([`/redirect/${FILE}`, `/ok/${FILE}`]);
  });

  it('tries the next URL when one fails', async () => {
    const entry = {
      id: 'test/fallback',
      preset: 'vit-tiny-test',
      urls: [`${base}/ok/missing.bin`, `${base}/ok/${FILE}`],
      fileName: FILE,
      format: 'safetensors' as const,
      layout: 'timm' as const,
      sizeBytes: bytes.length,
      approxMB: 0.5,
      sha256: SHA,
      sha256Source: 'test',
      license: 'test',
      source: 'test',
      mean: [0.5, 0.5, 0.5] as [number, number, number],
      std: [0.5, 0.5, 0.5] as [number, number, number],
    };
    const p = await fetchWeights(entry, { cacheDir });
    expect(p).toBe(path.join(cacheDir, 'weights', 'test--fallback', FILE));
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
    expect(server.hits.map((h) => h.status)).toEqual([404, 200]);
  });

  it('refuses a file without a pinned hash unless allowed', async () => {
    const err = await fetchWeights(url('ok', null), { cacheDir }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/--allow-unverified/);
    expect(server.hits).toHaveLength(0);

    const p = await fetchWeights(url('ok', null), { cacheDir, allowUnverified: true });
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
    const record = JSON.parse(await readFile(`${p}.verified.json`, 'utf8'));
    expect(record).toMatchObject({ sha256: SHA, pinned: false, size: bytes.length });
  });

  it('lets two concurrent downloads of one file share a single transfer', async () => {
    const [a, b] = await Promise.all([
      fetchWeights(url('ok'), { cacheDir, lockPollMs: 10 }),
      fetchWeights(url('ok'), { cacheDir, lockPollMs: 10 }),
    ]);
    expect(a).toBe(b);
    expect(Buffer.compare(await readFile(a), bytes)).toBe(0);
    expect(server.hitsFor(FILE)).toHaveLength(1);
  });

  it('takes over a lock left by a dead process', async () => {
    const dest = targetFor(url('ok'), { cacheDir }).dest;
    await mkdir(path.dirname(dest), { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    await writeFile(`${dest}.lock`, JSON.stringify({ pid: dead, host: os.hostname() }));
    const p = await fetchWeights(url('ok'), { cacheDir, lockPollMs: 10 });
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
  });

  it('stops on abort and keeps what it has', async () => {
    server.drops = 0;
    const ctrl = new AbortController();
    const reason = new Error('user abort');
    const err = await fetchWeights(url('stall'), {
      cacheDir,
      signal: ctrl.signal,
      onProgress: () => ctrl.abort(reason),
    }).catch((e) => e);
    expect(err).toBe(reason);
  });
});

describe('cache directory', () => {
  it('honours VITSTREAM_CACHE for downloads', async () => {
    const p = await fetchWeights(url('ok'), { env: { VITSTREAM_CACHE: cacheDir } });
    expect(p.startsWith(path.join(cacheDir, 'weights'))).toBe(true);
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
  });

  it('follows XDG and falls back to ~/.cache', () => {
    expect(cacheRoot('/explicit', { VITSTREAM_CACHE: '/v' })).toBe('/explicit');
    expect(cacheRoot(undefined, { VITSTREAM_CACHE: '/v', XDG_CACHE_HOME: '/x' })).toBe('/v');
    expect(cacheRoot(undefined, { XDG_CACHE_HOME: '/x' })).toBe('/x/vitstream');
    expect(cacheRoot(undefined, { XDG_CACHE_HOME: 'relative' })).toBe(
      path.join(os.homedir(), '.cache', 'vitstream'),
    );
    expect(cacheRoot(undefined, {})).toBe(path.join(os.homedir(), '.cache', 'vitstream'));
  });
});
