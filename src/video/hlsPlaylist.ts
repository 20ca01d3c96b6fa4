/**
 * What vitstream needs to know of an HLS playlist to treat the feed by its own clock: its target
 * duration (the longest segment, hence the longest a healthy feed stays quiet), whether the writer
 * declared it finished (#EXT-X-ENDLIST), and enough of its tail to tell that it stopped growing.
 */
export interface HlsPlaylist {
  /**
   * #EXT-X-TARGETDURATION in ms, or the longest #EXTINF if longer (a writer cutting at keyframes may
   * understate it: ffmpeg's muxer writes 0 before its first segment ends); undefined if neither is given.
   */
  targetDurationMs: number | undefined;
  /** #EXT-X-ENDLIST: no segment will be added. */
  ended: boolean;
  /** #EXT-X-MEDIA-SEQUENCE plus the number of segments: changes whenever a segment is added. */
  nextSequence: number;
  /** URI of the last segment, if any. */
  lastSegment: string | undefined;
  /** Variant playlists of a master playlist (#EXT-X-STREAM-INF), as written. */
  variants: string[];
}

/** A playlist without a readable target duration: Apple's recommended segment length. */
export const DEFAULT_TARGET_DURATION_MS = 6000;

/** Reads a playlist's text; lines it does not know are ignored (never throws). */
export function parseHlsPlaylist(text: string): HlsPlaylist {
  let targetDurationMs: number | undefined;
  let longestMs = 0;
  let ended = false;
  let sequence = 0;
  let segments = 0;
  let lastSegment: string | undefined;
  const variants: string[] = [];
  let variantNext = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const [tag, value = ''] = line.split(/:(.*)/s);
      if (tag === '#EXT-X-TARGETDURATION') {
        const s = Number(value);
        if (Number.isFinite(s) && s > 0) targetDurationMs = s * 1000;
      } else if (tag === '#EXTINF') {
        const s = Number.parseFloat(value);
        if (Number.isFinite(s) && s > 0) longestMs = Math.max(longestMs, s * 1000);
      } else if (tag === '#EXT-X-MEDIA-SEQUENCE') {
        const n = Number(value);
        if (Number.isSafeInteger(n) && n >= 0) sequence = n;
      } else if (tag === '#EXT-X-ENDLIST') ended = true;
      else if (tag === '#EXT-X-STREAM-INF') variantNext = true;
      continue;
    }
    if (variantNext) variants.push(line);
    else {
      segments++;
      lastSegment = line;
    }
    variantNext = false;
  }
  if (longestMs > (targetDurationMs ?? 0)) targetDurationMs = longestMs;
  return { targetDurationMs, ended, nextSequence: sequence + segments, lastSegment, variants };
}

/** An http(s) URL whose path names an .m3u8 playlist (or a source forced to the hls demuxer). */
export function isHlsUrl(input: string, format?: string): boolean {
  if (!/^https?:\/\//i.test(input)) return false;
  if (format === 'hls') return true;
  return /\.m3u8?$/i.test(input.replace(/[?#].*$/, ''));
}

export interface FetchPlaylistOptions {
  /** Bytes read at most (default 1 MiB): a playlist larger than that is not one we trust. */
  maxBytes?: number;
  /** Whole request, body included (default 5000 ms). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * Fetches and parses a playlist, following one level of master playlist to its first variant.
 * Bounded in size and time; any failure (network, status, size, credentials in the URL, which
 * fetch refuses) gives undefined: the caller then keeps its configured limits.
 */
export async function fetchHlsPlaylist(
  url: string,
  options: FetchPlaylistOptions = {},
): Promise<HlsPlaylist | undefined> {
  const first = await fetchText(url, options);
  if (first === undefined) return undefined;
  const playlist = parseHlsPlaylist(first);
  const variant = playlist.variants[0];
  if (variant === undefined) return playlist;
  let variantUrl: string;
  try {
    variantUrl = new URL(variant, url).href;
  } catch {
    return undefined;
  }
  if (!/^https?:/i.test(variantUrl)) return undefined;
  const text = await fetchText(variantUrl, options);
  return text === undefined ? undefined : parseHlsPlaylist(text);
}

async function fetchText(url: string, options: FetchPlaylistOptions): Promise<string | undefined> {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const signal = AbortSignal.timeout(options.timeoutMs ?? 5000);
  try {
    const res = await (options.fetch ?? fetch)(url, { signal, redirect: 'follow' });
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * Whether the writer of a playlist has finished (#EXT-X-ENDLIST) or stopped: read now and again a
 * target duration later, it has not grown. A playlist that cannot be read says nothing (false).
 */
export async function hlsWriterGone(
  url: string,
  read: (url: string) => Promise<HlsPlaylist | undefined> = (u) => fetchHlsPlaylist(u),
): Promise<boolean> {
  const first = await read(url);
  if (!first) return false;
  if (first.ended) return true;
  await new Promise((resolve) =>
    setTimeout(resolve, first.targetDurationMs ?? DEFAULT_TARGET_DURATION_MS).unref?.(),
  );
  const again = await read(url);
  return again !== undefined && (again.ended || again.nextSequence === first.nextSequence);
}
