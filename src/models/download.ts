import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DownloadError } from '../errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { cacheRoot, checkCacheRoot, entryCachePath, makeCacheDir, urlCachePath } from './cache.js';
import { type CatalogEntry, entryForUrl } from './catalog.js';
import { acquireLock } from './lock.js';

export interface DownloadProgress {
  /** Bytes of the file on disk so far, a resumed prefix included. */
  received: number;
  /** The whole file's size, or null while the server has not said. */
  total: number | null;
  url: string;
}

export interface FetchWeightsOptions {
  /** `--cache-dir`; otherwise $VITSTREAM_CACHE, $XDG_CACHE_HOME/vitstream, ~/.cache/vitstream. */
  cacheDir?: string;
  /** Environment to read the cache variables from (tests pass their own). */
  env?: NodeJS.ProcessEnv;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Download files with no pinned SHA-256 (`--allow-unverified`). Without it they are refused. */
  allowUnverified?: boolean;
  /** A fetch to use instead of Node's (tests, proxies). */
  fetchImpl?: typeof fetch;
  /** Expected SHA-256 for a plain URL (also read from `url#sha256=...`). */
  sha256?: string;
  /** Resumes attempted within one call after a dropped connection (default 3). */
  retries?: number;
  /** Wait before the first resume; doubles each time (default 1000 ms). */
  retryDelayMs?: number;
  /** A connection that delivers nothing for this long counts as dropped (default 30 s). */
  idleTimeoutMs?: number;
  /** Re-hash a cached file even when its verification record matches. */
  verifyCached?: boolean;
  lockPollMs?: number;
  lockStaleMs?: number;
  logger?: Logger;
}

/** What to download, whatever the caller named. */
export interface DownloadTarget {
  urls: string[];
  sha256: string | null;
  sizeBytes: number | null;
  /** Final path in the cache. */
  dest: string;
  /** For messages: the catalogue id or the URL. */
  label: string;
  fileName: string;
}

/** The record written beside a verified file, so that later runs need not re-hash 300 MB to trust it. */
interface VerifiedRecord {
  sha256: string;
  size: number;
  url: string;
  verifiedAt: string;
  /** False when the user allowed an unverified download: the hash is what arrived, not what was expected. */
  pinned: boolean;
}

const SHA256_RE = /^[0-9a-f]{64}$/;

/** Splits `https://host/file#sha256=<hex>` into the URL and the hash. */
export function parseUrlSpec(spec: string): { url: string; sha256: string | null } {
  const hashAt = spec.indexOf('#');
  if (hashAt < 0) return { url: spec, sha256: null };
  const url = spec.slice(0, hashAt);
  const frag = new URLSearchParams(spec.slice(hashAt + 1));
  const sha = frag.get('sha256')?.toLowerCase() ?? null;
  if (sha !== null && !SHA256_RE.test(sha))
    throw new DownloadError(`${spec}: #sha256= must be 64 hex digits, got '${sha}'`, { input: spec });
  return { url, sha256: sha };
}

export function targetFor(what: CatalogEntry | string, options: FetchWeightsOptions = {}): DownloadTarget {
  const root = cacheRoot(options.cacheDir, options.env);
  if (typeof what !== 'string') {
    return {
      urls: what.urls,
      sha256: what.sha256,
      sizeBytes: what.sizeBytes,
      dest: entryCachePath(what, root),
      label: what.id,
      fileName: what.fileName,
    };
  }
  const { url, sha256: fromFragment } = parseUrlSpec(what);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DownloadError(`'${what}' is not a URL (expected https://...)`, { input: what });
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw new DownloadError(`${what}: only http(s) URLs can be downloaded, got ${parsed.protocol}`, {
      input: what,
    });
  const entry = entryForUrl(url);
  const given = options.sha256?.toLowerCase() ?? fromFragment;
  if (given && !SHA256_RE.test(given))
    throw new DownloadError(`${what}: sha256 must be 64 hex digits, got '${given}'`, { input: what });
  if (given && entry?.sha256 && given !== entry.sha256)
    throw new DownloadError(
      `${what}: the given sha256 ${given} differs from the one pinned for ${entry.id} (${entry.sha256})`,
      { input: what },
    );
  const fileName = path.posix.basename(parsed.pathname) || 'download';
  return {
    urls: [url],
    sha256: given ?? entry?.sha256 ?? null,
    sizeBytes: entry?.sizeBytes ?? null,
    dest: entry ? entryCachePath(entry, root) : urlCachePath(url, root),
    label: entry?.id ?? url,
    fileName: entry?.fileName ?? fileName,
  };
}

/**
 * Downloads a checkpoint into the cache (once) and returns its local path. Verifies the SHA-256 while
 * streaming, resumes an interrupted `.part` file with an HTTP Range request, and renames into place only
 * when the bytes are verified, so the final name never holds a partial or wrong file.
 */
export async function fetchWeights(
  what: CatalogEntry | string,
  options: FetchWeightsOptions = {},
): Promise<string> {
  const root = cacheRoot(options.cacheDir, options.env);
  checkCacheRoot(root);
  const target = targetFor(what, options);
  const log = options.logger ?? silentLogger;
  if (target.sha256 === null && !options.allowUnverified) throw unverifiedError(target);
  if (await cachedFileOk(target, options, log)) return target.dest;

  makeCacheDir(path.dirname(target.dest), root);
  const lock = await acquireLock(`${target.dest}.lock`, {
    signal: options.signal,
    pollMs: options.lockPollMs,
    staleMs: options.lockStaleMs,
    onWait: (holder) =>
      log.info({ dest: target.dest, holder }, 'another process is downloading this file; waiting'),
  });
  try {
    // Whoever held the lock before us may have finished the job.
    if (await cachedFileOk(target, options, log)) return target.dest;
    await downloadLocked(target, options, log);
    return target.dest;
  } finally {
    await lock.release();
  }
}

function unverifiedError(t: DownloadTarget): DownloadError {
  return new DownloadError(
    `${t.label} has no pinned SHA-256, so what arrives cannot be checked. Pass --allow-unverified ` +
      `(allowUnverified: true) to download it anyway, or pin a hash: --weights '${t.urls[0]}#sha256=<64 hex digits>'.`,
    { input: t.label },
  );
}

async function readRecord(dest: string): Promise<VerifiedRecord | undefined> {
  try {
    return JSON.parse(await readFile(`${dest}.verified.json`, 'utf8')) as VerifiedRecord;
  } catch {
    return undefined;
  }
}

async function writeRecord(dest: string, record: VerifiedRecord): Promise<void> {
  const tmp = `${dest}.verified.json.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  await rename(tmp, `${dest}.verified.json`);
}

async function hashInto(file: string, hash: Hash): Promise<number> {
  let n = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    n += (chunk as Buffer).length;
  }
  return n;
}

/** A file already under the final name: trusted by its record when the sizes agree, else re-hashed once. */
async function cachedFileOk(t: DownloadTarget, o: FetchWeightsOptions, log: Logger): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(t.dest)).size;
  } catch {
    return false;
  }
  const record = await readRecord(t.dest);
  if (!o.verifyCached && record && record.size === size && (t.sha256 === null || record.sha256 === t.sha256))
    return true;
  const hash = createHash('sha256');
  await hashInto(t.dest, hash);
  const actual = hash.digest('hex');
  if (t.sha256 !== null && actual !== t.sha256) {
    // Not ours to keep: a file copied in by hand or damaged on disk. Download a good one instead.
    log.warn(
      { dest: t.dest, expected: t.sha256, actual },
      'cached weights fail verification; downloading again',
    );
    await rm(t.dest, { force: true });
    await rm(`${t.dest}.verified.json`, { force: true });
    return false;
  }
  await writeRecord(t.dest, {
    sha256: actual,
    size,
    url: record?.url ?? t.urls[0]!,
    verifiedAt: new Date().toISOString(),
    pinned: t.sha256 !== null,
  });
  return true;
}

/** The connection broke after the transfer started: the `.part` file is kept and a resume may finish it. */
class Interrupted extends Error {}
/** Nothing could be fetched from this URL at all (DNS, refused, timeout before a response). */
class Unreachable extends Error {
  constructor(
    readonly url: string,
    readonly code: string,
    cause: unknown,
  ) {
    super(`${url}: ${code}`, { cause });
  }
}
/** The server answered with an error status. */
class HttpFailure extends Error {}

const NETWORK_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'CERT_HAS_EXPIRED',
]);

/** The first errno-like code in an error's cause chain (undici wraps them: TypeError('fetch failed').cause). */
/** The message of the deepest cause ("bad port" under fetch's "fetch failed"). */
function innermostMessage(e: unknown): string {
  let cur = e;
  for (let depth = 0; depth < 5 && (cur as { cause?: unknown })?.cause; depth++)
    cur = (cur as { cause: unknown }).cause;
  return cur instanceof Error ? cur.message : String(cur);
}

function errorCode(e: unknown): string | undefined {
  for (let cur = e, depth = 0; cur && depth < 5; depth++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string') return c;
    const errs = (cur as { errors?: unknown[] }).errors; // AggregateError from happy-eyeballs connects
    if (Array.isArray(errs) && errs.length > 0) return errorCode(errs[0]);
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

async function downloadLocked(t: DownloadTarget, o: FetchWeightsOptions, log: Logger): Promise<void> {
  const part = `${t.dest}.part`;
  const retries = o.retries ?? 3;
  const failures: Error[] = [];
  for (let attempt = 0; ; attempt++) {
    failures.length = 0;
    let interrupted: Interrupted | undefined;
    for (const url of t.urls) {
      try {
        let got = await transfer(url, part, t, o, log);
        if (got.resumedFrom > 0 && t.sha256 !== null && got.sha256 !== t.sha256) {
          // The kept prefix may be what is wrong (a crash can leave garbage at its end): one clean try.
          log.warn(
            { url, resumedFrom: got.resumedFrom },
            'resumed download fails verification; starting over',
          );
          await rm(part, { force: true });
          got = await transfer(url, part, t, o, log);
        }
        await finish(url, part, got, t);
        return;
      } catch (e) {
        if (o.signal?.aborted) throw o.signal.reason;
        if (e instanceof DownloadError) throw e;
        if (e instanceof Interrupted) {
          interrupted = e;
          break; // resume from the same bytes, starting again with the preferred URL
        }
        if (e instanceof Unreachable || e instanceof HttpFailure) {
          log.warn({ url, err: e.message }, 'download source failed; trying the next');
          failures.push(e);
          continue;
        }
        throw e;
      }
    }
    if (interrupted === undefined) break;
    if (attempt >= retries) {
      const have = await stat(part).then(
        (s) => s.size,
        () => 0,
      );
      throw new DownloadError(
        `download of ${t.label} was interrupted (${interrupted.message}); ${have} bytes are kept in ${part} ` +
          'and the next run resumes from there',
        { input: t.label, cause: interrupted },
      );
    }
    const wait = (o.retryDelayMs ?? 1000) * 2 ** attempt;
    log.warn({ label: t.label, attempt: attempt + 1, waitMs: wait }, 'download interrupted; resuming');
    await sleep(wait, undefined, { signal: o.signal });
  }
  throw allSourcesFailed(t, failures);
}

function allSourcesFailed(t: DownloadTarget, failures: Error[]): DownloadError {
  const manual =
    `Download it by hand from ${t.urls[0]}${t.sha256 ? ` (sha256 ${t.sha256})` : ''} and pass it with ` +
    `--weights /path/to/${t.fileName}, or copy it to ${t.dest} where the cache will find it.`;
  const unreachable = failures.filter((f): f is Unreachable => f instanceof Unreachable);
  if (unreachable.length === failures.length && unreachable.length > 0) {
    // Mirrors on one host fail alike: name each host once.
    const hosts = [...new Set(unreachable.map((u) => `${new URL(u.url).host} (${u.code})`))].join(', ');
    return new DownloadError(
      `cannot reach ${hosts} to download ${t.label}: this machine looks offline, or the host is blocked. ${manual}`,
      { input: t.label, cause: failures[0] },
    );
  }
  return new DownloadError(
    `could not download ${t.label}: ${failures.map((f) => f.message).join('; ')}. ${manual}`,
    { input: t.label, cause: failures[0] },
  );
}

interface Transferred {
  size: number;
  sha256: string;
  /** Bytes that came from an earlier run's `.part` rather than this request. */
  resumedFrom: number;
}

/** `bytes 100-199/1000` -> {start: 100, total: 1000}; total is null for `*`. */
function parseContentRange(h: string | null): { start: number; total: number | null } | undefined {
  const m = h ? /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(h.trim()) : null;
  if (!m) return undefined;
  return { start: m[1] === undefined ? -1 : Number(m[1]), total: m[2] === '*' ? null : Number(m[2]) };
}

/**
 * One request: appends to `.part` from its current size and returns the size and SHA-256 of the whole
 * `.part` (the existing prefix is re-hashed first, since a hash cannot be saved between runs).
 */
async function transfer(
  url: string,
  part: string,
  t: DownloadTarget,
  o: FetchWeightsOptions,
  log: Logger,
): Promise<Transferred> {
  let start = await stat(part).then(
    (s) => s.size,
    () => 0,
  );
  if (t.sizeBytes !== null && start > t.sizeBytes) {
    await rm(part, { force: true });
    start = 0;
  }
  const hash = createHash('sha256');
  if (start > 0) await hashInto(part, hash);

  const ctrl = new AbortController();
  const onUserAbort = () => ctrl.abort(o.signal!.reason);
  o.signal?.addEventListener('abort', onUserAbort, { once: true });
  if (o.signal?.aborted) ctrl.abort(o.signal.reason);
  const idleMs = o.idleTimeoutMs ?? 30_000;
  let timedOut = false;
  let idle: NodeJS.Timeout | undefined;
  const resetIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      timedOut = true;
      // An internal reason, not a DownloadError: the catch below turns it into a resumable interruption.
      ctrl.abort(new Interrupted(`no data for ${idleMs} ms`));
    }, idleMs);
  };

  let responded = false;
  try {
    resetIdle();
    const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'vitstream' };
    if (start > 0) headers.range = `bytes=${start}-`;
    const res = await (o.fetchImpl ?? fetch)(url, { headers, redirect: 'follow', signal: ctrl.signal });
    responded = true;

    let total: number | null = null;
    let append = false;
    if (res.status === 206) {
      const cr = parseContentRange(res.headers.get('content-range'));
      if (!cr || cr.start !== start) {
        // A range we did not ask for: cannot be stitched onto our prefix safely.
        await res.body?.cancel();
        await rm(part, { force: true });
        throw new Interrupted(`server answered range ${res.headers.get('content-range')} to bytes=${start}-`);
      }
      total = cr.total;
      append = true;
    } else if (res.status === 200) {
      if (start > 0) log.info({ url }, 'server ignored the Range request; downloading from the start');
      const len = res.headers.get('content-length');
      total = len === null ? null : Number(len);
      start = 0;
    } else if (res.status === 416 && start > 0) {
      // Our .part already reaches the end (a run that died between the last byte and the rename), or is longer.
      await res.body?.cancel();
      const cr = parseContentRange(res.headers.get('content-range'));
      if (cr?.total === start) return { size: start, sha256: hash.digest('hex'), resumedFrom: start };
      await rm(part, { force: true });
      throw new Interrupted(
        `server refused range bytes=${start}- (file is ${cr?.total ?? 'of unknown size'})`,
      );
    } else {
      await res.body?.cancel();
      throw new HttpFailure(`HTTP ${res.status} ${res.statusText} from ${url}`);
    }
    if (t.sizeBytes !== null && total !== null && total !== t.sizeBytes)
      log.warn({ url, total, expected: t.sizeBytes }, 'server reports a size other than the catalogue');

    const fresh = createHash('sha256');
    const h = append ? hash : fresh;
    const fh = await open(part, append ? 'a' : 'w');
    let received = start;
    o.onProgress?.({ received, total, url });
    try {
      if (res.body) {
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          resetIdle();
          await fh.write(value);
          h.update(value);
          received += value.byteLength;
          o.onProgress?.({ received, total, url });
        }
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (total !== null && received < total)
      throw new Interrupted(`connection closed at ${received} of ${total} bytes`);
    return { size: received, sha256: h.digest('hex'), resumedFrom: append ? start : 0 };
  } catch (e) {
    if (o.signal?.aborted) throw o.signal.reason;
    if ((e instanceof Interrupted && !timedOut) || e instanceof HttpFailure || e instanceof DownloadError)
      throw e;
    const code = timedOut ? 'timeout' : (errorCode(e) ?? 'network error');
    // No answer at all: fetch's own refusals (a port fetch blocks, a bad URL) carry no code, only a cause.
    if (!responded)
      throw new Unreachable(url, timedOut || NETWORK_CODES.has(code) ? code : innermostMessage(e), e);
    // The body stopped mid-way (socket closed, reset, or idle): keep the bytes for a resume.
    throw new Interrupted(`${code}${e instanceof Error && e.message ? `: ${e.message}` : ''}`);
  } finally {
    clearTimeout(idle);
    o.signal?.removeEventListener('abort', onUserAbort);
  }
}

/** Verifies the complete `.part`; renames it into place only when it is the file we were promised. */
async function finish(url: string, part: string, got: Transferred, t: DownloadTarget): Promise<void> {
  if (t.sha256 !== null && got.sha256 !== t.sha256) {
    await rm(part, { force: true });
    throw new DownloadError(
      `checksum mismatch for ${url}: expected sha256 ${t.sha256}, got ${got.sha256} (${got.size} bytes). ` +
        'The download was deleted; run again to retry, and report it if it persists (the file may have changed upstream).',
      { input: url },
    );
  }
  if (t.sizeBytes !== null && got.size !== t.sizeBytes && t.sha256 === null) {
    await rm(part, { force: true });
    throw new DownloadError(
      `${url}: expected ${t.sizeBytes} bytes, got ${got.size}; the download was deleted`,
      {
        input: url,
      },
    );
  }
  await rename(part, t.dest);
  await writeRecord(t.dest, {
    sha256: got.sha256,
    size: got.size,
    url,
    verifiedAt: new Date().toISOString(),
    pinned: t.sha256 !== null,
  });
}
