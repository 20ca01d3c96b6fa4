import { stat } from 'node:fs/promises';
import path from 'node:path';
import { DownloadError } from '../errors.js';
import { CATALOG, type CatalogEntry, DEFAULT_FOR_PRESET, entryForUrl, findCheckpoint } from './catalog.js';
import { type FetchWeightsOptions, fetchWeights, parseUrlSpec } from './download.js';
import { isPreset } from './presets.js';

export interface ResolvedWeights {
  /** Local file to open. */
  path: string;
  /** The catalogue entry it came from, when it did (gives format, layout, mean/std). */
  entry?: CatalogEntry;
  /** How the spec was read. */
  kind: 'file' | 'url' | 'catalog';
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

/**
 * Turns what a user typed after `--weights` into a local file: a path (checked to exist), an http(s) URL
 * (downloaded; verified when `#sha256=` is given or the catalogue knows the URL), or a catalogue id or preset
 * name (its default checkpoint, downloaded once into the cache).
 */
export async function resolveWeightsDetailed(
  spec: string,
  options: FetchWeightsOptions = {},
): Promise<ResolvedWeights> {
  if (isUrl(spec)) {
    const { url } = parseUrlSpec(spec);
    return { path: await fetchWeights(spec, options), entry: entryForUrl(url), kind: 'url' };
  }
  const local = await stat(spec).catch(() => undefined);
  if (local) {
    if (!local.isFile())
      throw new DownloadError(
        `weights '${spec}' is ${local.isDirectory() ? 'a folder' : 'not a regular file (a device, pipe or socket)'}, expected a .npz or .safetensors file`,
        { input: spec },
      );
    return { path: spec, kind: 'file' };
  }
  const entry = findCheckpoint(spec);
  if (entry) return { path: await fetchWeights(entry, options), entry, kind: 'catalog' };
  if (isPreset(spec))
    throw new DownloadError(
      `model '${spec}' has no downloadable ImageNet-1k checkpoint; pass one with --weights /path/to/file.npz|.safetensors`,
      { input: spec },
    );
  throw new DownloadError(unknownSpecMessage(spec), { input: spec });
}

/** resolveWeights, returning only the path. */
export async function resolveWeights(spec: string, options: FetchWeightsOptions = {}): Promise<string> {
  return (await resolveWeightsDetailed(spec, options)).path;
}

function unknownSpecMessage(spec: string): string {
  const looksLikePath = spec.includes(path.sep) || spec.includes('/') || /\.(npz|safetensors)$/i.test(spec);
  const names = [...Object.keys(DEFAULT_FOR_PRESET), ...CATALOG.map((e) => e.id)];
  if (looksLikePath && !names.some((n) => n.toLowerCase() === spec.toLowerCase()))
    return `weights file '${spec}' does not exist (resolved to ${path.resolve(spec)})`;
  return (
    `weights '${spec}' is neither a file, an http(s) URL, nor a known checkpoint. ` +
    `Known names: ${names.join(', ')}.`
  );
}
