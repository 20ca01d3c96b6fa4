import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readlinkSync, type Stats, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';
import type { CatalogEntry } from './catalog.js';

/**
 * The cache root: an explicit `--cache-dir`, else `$VITSTREAM_CACHE`, else `$XDG_CACHE_HOME/vitstream`, else
 * `~/.cache/vitstream`. A relative XDG_CACHE_HOME is ignored, as the XDG spec asks.
 */
export function cacheRoot(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return path.resolve(explicit);
  if (env.VITSTREAM_CACHE) return path.resolve(env.VITSTREAM_CACHE);
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'vitstream');
  return path.join(os.homedir(), '.cache', 'vitstream');
}

/** Folder for weights under the cache root; other caches (autotuning, calibration) live beside it. */
export function weightsDir(root: string): string {
  return path.join(root, 'weights');
}

/** `timm/vit_base...` -> `timm--vit_base...`: one folder per checkpoint, readable, no nesting. */
function safeName(s: string): string {
  return s.replace(/\//g, '--').replace(/[^A-Za-z0-9._+-]/g, '_');
}

export function entryCachePath(entry: CatalogEntry, root: string): string {
  return path.join(weightsDir(root), safeName(entry.id), entry.fileName);
}

/**
 * A plain URL's file goes under a folder named from a hash of the URL: two URLs ending in the same
 * `model.safetensors` must not share a cache slot.
 */
export function urlCachePath(url: string, root: string): string {
  const u = new URL(url);
  u.hash = '';
  const key = createHash('sha256').update(u.href).digest('hex').slice(0, 16);
  const base = safeName(decodeURIComponent(path.posix.basename(u.pathname)) || 'download');
  return path.join(weightsDir(root), 'url', `${safeName(u.hostname)}-${key}`, base);
}

/** Kernel and device file systems: no cache there, and Node's recursive mkdir can loop forever under /proc. */
const SYSTEM_DIRS = ['/proc', '/sys', '/dev'];

/**
 * Refuses a cache root that can never hold a cache, before anything is read, created or downloaded:
 * a system folder, a path through a file, a dangling symlink. Creates nothing, so that a read-only
 * cache that already holds its files still works; makeCacheDir reports what creation runs into.
 */
export function checkCacheRoot(root: string): void {
  const abs = path.resolve(root);
  const fail = (why: string): never => {
    throw new InputError(`cache folder ${root}: ${why}`, { input: root });
  };
  const system = SYSTEM_DIRS.find((d) => abs === d || abs.startsWith(`${d}/`));
  if (system)
    fail(`${system} is a system folder; choose a folder of your own (--cache-dir or $VITSTREAM_CACHE)`);
  // The nearest part of the path that exists decides: it must be a folder (or a link to one).
  for (let p = abs; ; p = path.dirname(p)) {
    let st: Stats | undefined;
    try {
      st = lstatSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        fail(`cannot look at ${p} (${code ?? (e as Error).message})`);
    }
    if (st?.isSymbolicLink()) {
      const target = statSync(p, { throwIfNoEntry: false });
      if (!target) fail(`${p} is a symbolic link to ${readlinkSync(p)}, which does not exist`);
      st = target;
    }
    if (st) {
      if (!st.isDirectory()) fail(`${p} is a file, not a folder`);
      return;
    }
    if (p === path.dirname(p)) return;
  }
}

/** mkdir -p, one level at a time (see checkCacheRoot), with errors that name the cache folder. */
export function makeCacheDir(dir: string, root: string): void {
  const missing: string[] = [];
  for (let p = path.resolve(dir); !existsSync(p) && p !== path.dirname(p); p = path.dirname(p))
    missing.unshift(p);
  for (const p of missing) {
    try {
      mkdirSync(p);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EEXIST') continue;
      const why =
        err.code === 'EROFS'
          ? 'read-only file system'
          : err.code === 'EACCES'
            ? 'permission denied'
            : err.message;
      throw new InputError(
        `cache folder ${root}: cannot create ${p} (${why}); choose another with --cache-dir`,
        {
          input: root,
          cause: e,
        },
      );
    }
  }
}
