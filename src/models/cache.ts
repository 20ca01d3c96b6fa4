import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
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
