import { open, opendir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { SourceRefusedError } from '../errors.js';
import { globRegex } from '../video/args.js';
import { protocolWhitelist, urlScheme } from '../video/protocols.js';
import { isImagePath } from '../video/source.js';

export { protocolWhitelist };

/** What a client of the stream API may name as a source: URLs of these schemes, files under these roots. */
export interface SourcePolicy {
  mediaRoots: readonly string[];
  allowedSchemes: readonly string[];
}

/**
 * Network sources a camera or media server offers. Left out: `udp` and `rtp`, which make ffmpeg bind
 * and listen on a port of the server rather than connect somewhere, and every scheme that reaches
 * local files or processes (`file`, `pipe`, `concat`, `subfile`, `data`, `async`, `cache`, `crypto`, ...).
 */
export const DEFAULT_API_SCHEMES: readonly string[] = [
  'rtsp',
  'rtsps',
  'http',
  'https',
  'rtmp',
  'rtmps',
  'srt',
];

/** Schemes that reach local files, processes or other protocols' data: never over the API, whatever the policy says. */
const NEVER_OVER_API = new Set([
  'file',
  'pipe',
  'fd',
  'concat',
  'concatf',
  'subfile',
  'data',
  'async',
  'cache',
  'crypto',
  'tee',
  'unix',
]);
/** Pseudo file systems: devices, kernel and process state. */
const SYSTEM_DIRS = ['/dev', '/proc', '/sys'];
/** A glob or folder naming more files than this is refused rather than held as a list. */
export const MAX_SOURCE_FILES = 10_000;
const MAX_INPUT_LENGTH = 4096;

export interface ApiSource {
  /** What ffmpeg opens: the URL, the real path of a file or folder, or the glob inside its real folder. */
  input: string;
  /** For folders and globs: every image file, real paths, each checked to be under a root; sorted. */
  inputs?: string[];
  kind: 'url' | 'file' | 'folder' | 'glob';
}

/** Resolves or refuses a stream source offered over the API. Never says whether a refused path exists. */
export async function checkApiSource(body: unknown, policy: SourcePolicy): Promise<ApiSource> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw refused('source: expected an object with "url" or "path"');
  const { url, path: given } = body as { url?: unknown; path?: unknown };
  if ((url === undefined) === (given === undefined))
    throw refused('source: give exactly one of "url" and "path"');
  const value = url ?? given;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_INPUT_LENGTH)
    throw refused(
      `source: "${url === undefined ? 'path' : 'url'}" must be a string of 1 to ${MAX_INPUT_LENGTH} characters`,
    );
  // Control characters (NUL, newlines) have no place in a URL or a path and could split log lines.
  if ([...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    throw refused(`source: "${shown(value)}" holds control characters`);
  return url !== undefined ? checkUrl(value, policy) : checkPath(value, policy);
}

function checkUrl(value: string, policy: SourcePolicy): ApiSource {
  const scheme = urlScheme(value);
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    parsed = undefined;
  }
  const allowed = policy.allowedSchemes.map((s) => s.toLowerCase());
  if (
    !scheme ||
    !parsed ||
    parsed.protocol !== `${scheme}:` ||
    NEVER_OVER_API.has(scheme) ||
    !allowed.includes(scheme)
  )
    throw refused(
      `url "${shown(value)}" refused: expected ${allowed.map((s) => `${s}://`).join(', ') || 'no URLs (none are allowed)'}`,
    );
  if (!parsed.hostname) throw refused(`url "${shown(value)}" refused: it names no host`);
  return { input: value, kind: 'url' };
}

async function checkPath(value: string, policy: SourcePolicy): Promise<ApiSource> {
  if (policy.mediaRoots.length === 0)
    throw refused('local paths are not accepted over the API: the server has no media root (--media-root)');
  // The same words for a path outside the roots, a missing one, a device or a special file: a
  // client must not learn what exists on the server.
  const outside = refused(`path "${shown(value)}" refused: not a file, folder or glob under a media root`);
  if (value === '-' || urlScheme(value) || /^[a-z][a-z0-9+.-]*:/i.test(value) || isSystemPath(value))
    throw outside;
  const roots = (await Promise.all(policy.mediaRoots.map((r) => realpath(r).catch(() => undefined)))).filter(
    (r): r is string => r !== undefined,
  );
  const candidates = path.isAbsolute(value) ? [value] : roots.map((r) => path.resolve(r, value));
  for (const candidate of candidates) {
    const found = /[*?[]/.test(path.basename(candidate))
      ? await resolveGlob(candidate, roots)
      : await resolveEntry(candidate, roots);
    if (found) return found;
  }
  throw outside;
}

async function resolveEntry(candidate: string, roots: string[]): Promise<ApiSource | undefined> {
  const real = await insideRoots(candidate, roots);
  if (!real) return undefined;
  const st = await stat(real).catch(() => undefined);
  if (st?.isFile()) {
    if (await isPlaylist(real)) return undefined;
    return { input: real, kind: 'file' };
  }
  if (!st?.isDirectory()) return undefined;
  const inputs = await listFiles(real, roots, isImagePath);
  if (inputs.length === 0) throw refused(`path "${shown(candidate)}": the folder holds no images`);
  return { input: real, inputs, kind: 'folder' };
}

/** A glob's folder is resolved like any path; only the file name may hold wildcards (`*`, `?`, `[...]`). */
async function resolveGlob(candidate: string, roots: string[]): Promise<ApiSource | undefined> {
  const dir = path.dirname(candidate);
  const pattern = path.basename(candidate);
  const matcher = /[*?[{\\]/.test(dir) ? undefined : globRegex(pattern);
  if (!matcher) return undefined;
  const realDir = await insideRoots(dir, roots);
  if (!realDir || !(await isFolder(realDir))) return undefined;
  const inputs = await listFiles(realDir, roots, (name) => matcher.test(name));
  if (inputs.length === 0) throw refused(`path "${shown(candidate)}": no files match`);
  return { input: path.join(realDir, pattern), inputs, kind: 'glob' };
}

/** The real paths of a folder's matching regular files that are under a root, byte order; at most MAX_SOURCE_FILES. */
async function listFiles(dir: string, roots: string[], wanted: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  const entries = await opendir(dir).catch(() => undefined);
  if (!entries) return out;
  for await (const entry of entries) {
    if (entry.name.startsWith('.') || !wanted(entry.name)) continue;
    const real = await insideRoots(path.join(dir, entry.name), roots);
    if (!real || !(await stat(real).catch(() => undefined))?.isFile() || (await isPlaylist(real))) continue;
    if (out.length === MAX_SOURCE_FILES)
      throw refused(`path "${shown(dir)}": more than ${MAX_SOURCE_FILES} files; name fewer`);
    out.push(real);
  }
  return out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** The real path (symlinks resolved) when it lies inside a root and outside the system folders, else undefined. */
async function insideRoots(p: string, roots: string[]): Promise<string | undefined> {
  const real = await realpath(p).catch(() => undefined);
  if (!real || isSystemPath(real)) return undefined;
  return roots.some((root) => isInside(real, root)) ? real : undefined;
}

/** By path components: /media/a is not inside /media/ab. */
export function isInside(p: string, root: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

async function isFolder(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

function isSystemPath(p: string): boolean {
  const abs = path.resolve(p);
  return SYSTEM_DIRS.some((d) => isInside(abs, d));
}

/**
 * A local playlist (HLS, ffconcat) would make ffmpeg open the files it lists, wherever they are: the
 * file whitelist cannot tell them from the playlist itself.
 */
async function isPlaylist(file: string): Promise<boolean> {
  const fh = await open(file, 'r').catch(() => undefined);
  // Unreadable: ffmpeg could not read it either, and refusing says nothing a client may not know.
  if (!fh) return true;
  try {
    const head = Buffer.alloc(16);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const text = head
      .subarray(0, bytesRead)
      .toString('latin1')
      .replace(/^\xef\xbb\xbf/, '');
    return /^(#EXTM3U|ffconcat)/i.test(text.trimStart());
  } finally {
    await fh.close();
  }
}

/** A client's string in a message: cut, so that a 60k-character path makes a short error. */
function shown(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

function refused(message: string): SourceRefusedError {
  return new SourceRefusedError(message, { input: 'source' });
}
