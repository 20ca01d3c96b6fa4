/**
 * Credentials in URLs (`rtsp://admin:secret@cam/…`) must not reach logs, events, ids, metrics labels
 * or the stream list: they are replaced by `***`, keeping the user name (`rtsp://admin:***@cam/…`).
 */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s:]*)(?::[^/?#@\s]*)?@/gi;

/** `s` with the password of every URL in it replaced by `***` (a user name alone is kept as it is). */
export function redactCredentials(s: string): string {
  return s.replace(USERINFO, (whole, scheme: string, user: string) =>
    whole.includes(':', scheme.length) ? `${scheme}${user}:***@` : `${scheme}${user}@`,
  );
}
