import { redactCredentials } from '../util/redact.js';

/**
 * One rule for stream ids on every path (HTTP /streams, WebSocket messages, the config file): 1-128
 * characters of letters, digits and `_ . : @ / -`. Long enough for a derived URL or path id, short enough
 * that ids cannot bloat /healthz, `hello` or /metrics, and free of characters that need escaping in a URL
 * path segment (besides '/') or a Prometheus label.
 */
export const STREAM_ID_PATTERN = /^[A-Za-z0-9_.:@/-]{1,128}$/;
export const MAX_STREAM_ID_LENGTH = 128;
export const STREAM_ID_RULE = '1-128 characters: letters, digits and _ . : @ / -';

export function isStreamId(id: unknown): id is string {
  return typeof id === 'string' && STREAM_ID_PATTERN.test(id);
}

/** Why `id` is not a stream id, naming it (shortened: it may be 60 000 characters), or undefined if it is one. */
export function streamIdProblem(id: unknown): string | undefined {
  if (isStreamId(id)) return undefined;
  if (typeof id !== 'string') return `stream id must be a string (${STREAM_ID_RULE})`;
  return `stream id "${shorten(id)}"${id.length > MAX_STREAM_ID_LENGTH ? ` (${id.length} characters)` : ''} is not valid: ${STREAM_ID_RULE}`;
}

/**
 * The id of a feed given without one: its URL or path, without credentials, other characters as '_' and
 * the last 128 characters kept (a file name says more than its folders).
 */
export function deriveStreamId(input: string): string {
  const noCredentials = redactCredentials(input).replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, '$1');
  const id = noCredentials.replace(/[^A-Za-z0-9_.:@/-]/g, '_');
  return id.length === 0 ? '_' : id.slice(-MAX_STREAM_ID_LENGTH);
}

/** A string short enough to quote in an error message. */
export function shorten(s: string, max = 80): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
