import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface AccessRules {
  /** When set, requests must carry it as `?token=` or `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * When set, a request whose `Origin` header is not in the list is refused. Requests without an
   * `Origin` (non-browser clients) are let through: the check exists to stop other web pages
   * from opening sockets from a visitor's browser, and only browsers send the header.
   */
  allowedOrigins?: readonly string[];
}

export type AccessResult =
  | { ok: true }
  | { ok: false; status: 401 | 403; reason: 'auth' | 'origin'; message: string };

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time comparison (on digests, so the lengths match and leak nothing either). */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token a request carries, from the query string or a Bearer Authorization header. */
export function requestToken(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (m) return m[1];
  }
  return url.searchParams.get('token') ?? undefined;
}

/** Normalises an origin for comparison: lower case, no trailing slash. */
function normaliseOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

export function checkOrigin(req: IncomingMessage, rules: AccessRules): AccessResult {
  if (!rules.allowedOrigins) return { ok: true };
  const origin = req.headers.origin;
  if (origin === undefined) return { ok: true };
  const allowed = rules.allowedOrigins.map(normaliseOrigin);
  if (allowed.includes('*') || allowed.includes(normaliseOrigin(origin))) return { ok: true };
  return { ok: false, status: 403, reason: 'origin', message: `origin ${origin} is not allowed` };
}

export function checkToken(req: IncomingMessage, url: URL, rules: AccessRules): AccessResult {
  if (rules.token === undefined) return { ok: true };
  if (tokenMatches(requestToken(req, url), rules.token)) return { ok: true };
  return {
    ok: false,
    status: 401,
    reason: 'auth',
    message: 'missing or wrong token: pass ?token=<token> or Authorization: Bearer <token>',
  };
}

/** Origin first (a foreign page should learn nothing about tokens), then the token. */
export function checkAccess(req: IncomingMessage, url: URL, rules: AccessRules): AccessResult {
  const origin = checkOrigin(req, rules);
  return origin.ok ? checkToken(req, url, rules) : origin;
}
