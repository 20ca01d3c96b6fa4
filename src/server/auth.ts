import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export interface AccessRules {
  /** When set, requests must carry it as `?token=` or `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * Origins (scheme://host[:port]) whose pages may open WebSockets and change streams. Unset: the
   * server's own origin only (the Host the request came to). Requests without an `Origin` (non-browser
   * clients) are let through: only browsers send it, and the check exists to stop other pages from
   * driving the server from a visitor's browser.
   */
  allowedOrigins?: readonly string[];
  /**
   * Host names (without port) a request may be addressed to, besides IP literals, localhost names, the
   * bound address and the hosts of `allowedOrigins`. A page served from another name that resolves to
   * this server (DNS rebinding) is refused.
   */
  allowedHosts?: readonly string[];
}

export type RefusalReason = 'host' | 'origin' | 'auth';

export type AccessResult =
  | { ok: true }
  | { ok: false; status: 400 | 401 | 403; reason: RefusalReason; message: string };

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

/** The host name of a Host header or origin, lower case, without port or IPv6 brackets. */
export function hostName(hostAndPort: string): string {
  const h = hostAndPort.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

const LOCAL_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

/**
 * Host-header check against DNS rebinding: a page on evil.example whose name is made to resolve to this
 * server sends `Host: evil.example`. IP literals are fine (a rebinding page has a name of its own).
 */
export function checkHost(req: IncomingMessage, rules: AccessRules & { boundHost?: string }): AccessResult {
  const header = req.headers.host;
  if (header === undefined || header === '')
    return { ok: false, status: 400, reason: 'host', message: 'missing Host header' };
  const name = hostName(header);
  if (isIP(name) !== 0 || LOCAL_NAMES.has(name) || name.endsWith('.localhost')) return { ok: true };
  if (rules.boundHost !== undefined && hostName(rules.boundHost) === name) return { ok: true };
  if (rules.allowedHosts?.some((h) => hostName(h) === name)) return { ok: true };
  for (const o of rules.allowedOrigins ?? []) {
    try {
      if (new URL(o).hostname.toLowerCase().replace(/^\[|\]$/g, '') === name) return { ok: true };
    } catch {
      // not a URL ('*' or a typo): it names no host
    }
  }
  return {
    ok: false,
    status: 403,
    reason: 'host',
    message: `Host "${header.slice(0, 100)}" is not a name of this server: add it with --allowed-host or --allowed-origin`,
  };
}

/** The Origin check; with no allowed origins given, the request's own Host (checked by checkHost) is the one origin allowed. */
export function checkOrigin(req: IncomingMessage, rules: AccessRules): AccessResult {
  const origin = req.headers.origin;
  if (origin === undefined) return { ok: true };
  const given = normaliseOrigin(origin);
  if (rules.allowedOrigins) {
    const allowed = rules.allowedOrigins.map(normaliseOrigin);
    if (allowed.includes('*') || allowed.includes(given)) return { ok: true };
  } else {
    const host = (req.headers.host ?? '').trim().toLowerCase();
    if (host !== '' && (given === `http://${host}` || given === `https://${host}`)) return { ok: true };
  }
  return {
    ok: false,
    status: 403,
    reason: 'origin',
    message: `origin ${origin.slice(0, 100)} is not allowed: add it with --allowed-origin`,
  };
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

/** Host, then Origin (a foreign page should learn nothing about tokens), then the token. */
export function checkAccess(
  req: IncomingMessage,
  url: URL,
  rules: AccessRules & { boundHost?: string },
): AccessResult {
  const host = checkHost(req, rules);
  if (!host.ok) return host;
  const origin = checkOrigin(req, rules);
  return origin.ok ? checkToken(req, url, rules) : origin;
}
