import { randomBytes } from 'node:crypto';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { cacheRoot, entryCachePath } from './cache.js';
import type { CatalogEntry } from './catalog.js';

/** Precision of a converted copy. */
export type ConvertedDtype = 'f32' | 'f16';

/**
 * Writes `dest` from the verified download `src` in the form the engine opens fastest (safetensors with
 * canonical tensor names, optionally float16). Supplied by the weights module (src/engine/weights), so
 * that this module knows files, not tensors.
 */
export type WeightsConverter = (
  src: string,
  dest: string,
  options: { dtype: ConvertedDtype },
) => Promise<void>;

/**
 * Where the converted copy of a download lives: beside it, named by precision, e.g.
 * `.../timm--vit_base.../model.canonical-f16.safetensors`. Takes a catalogue entry (its cache path is
 * derived from the cache options) or the path of a downloaded file (a plain URL's download).
 */
export function convertedPath(
  what: CatalogEntry | string,
  options: { dtype?: ConvertedDtype; cacheDir?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  const downloaded =
    typeof what === 'string' ? what : entryCachePath(what, cacheRoot(options.cacheDir, options.env));
  const stem = path.basename(downloaded).replace(/\.(npz|safetensors)$/i, '');
  return path.join(path.dirname(downloaded), `${stem}.canonical-${options.dtype ?? 'f32'}.safetensors`);
}

/**
 * Converts once and reuses the result. The converter writes a uniquely named temporary file that is renamed
 * into place, so two processes converting at once both end with a whole file and a reader never sees half.
 */
export async function ensureConverted(
  downloaded: string,
  converter: WeightsConverter,
  options: { dtype?: ConvertedDtype } = {},
): Promise<string> {
  const dtype = options.dtype ?? 'f32';
  const dest = convertedPath(downloaded, { dtype });
  const [src, existing] = await Promise.all([stat(downloaded), stat(dest).catch(() => undefined)]);
  // A conversion older than its source is from a previous download of a different file.
  if (existing && existing.mtimeMs >= src.mtimeMs) return dest;
  const tmp = `${dest}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    await converter(downloaded, tmp, { dtype });
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { force: true });
  }
  return dest;
}
