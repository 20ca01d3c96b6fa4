import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AccessRules, checkOrigin, checkToken } from './auth.js';
import type { ServerMetrics } from './metrics.js';
import { streamIdProblem } from './stream-id.js';
import { type ControlResult, runControl, type StreamController } from './streams.js';

export interface StreamsHttpOptions {
  rules: AccessRules;
  metrics: ServerMetrics;
  /** Largest request body, bytes. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Time the whole body may take to arrive, ms; a slower sender is answered 408 and cut. Default 10 000. */
  bodyTimeoutMs?: number;
}

/**
 * `GET /streams`, `POST /streams`, `GET /streams/:id`, `DELETE /streams/:id`: JSON in and out, behind
 * the same token as the WebSocket hub (the Host was checked by the server before). State-changing
 * requests must come from an allowed Origin (or none), and a POST must say `Content-Type:
 * application/json`: a cross-site form or `text/plain` POST, which browsers send without asking, is refused.
 * Ids may contain '/', so `:id` is the URL-encoded rest of the path.
 */
export function handleStreamsRequest(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  options: StreamsHttpOptions,
  controller: StreamController | undefined,
) {
  const { rules, metrics } = options;
  const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = `${JSON.stringify(body)}\n`;
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
      ...headers,
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
  const fail = (status: number, message: string, headers?: Record<string, string>) =>
    json(status, { error: message }, headers);
  const refuse = (reason: string, status: number, message: string, headers?: Record<string, string>) => {
    metrics.refused.inc({ reason });
    fail(status, message, headers);
  };

  const method = req.method ?? 'GET';
  const changes = method !== 'GET' && method !== 'HEAD';
  if (changes) {
    const origin = checkOrigin(req, rules);
    if (!origin.ok) return refuse('origin', origin.status, origin.message);
  }
  const access = checkToken(req, url, rules);
  if (!access.ok) return refuse('auth', access.status, access.message, { 'WWW-Authenticate': 'Bearer' });
  if (!controller) return fail(503, 'stream control is not available on this server');

  const rest = url.pathname.slice('/streams'.length);
  let id: string | undefined;
  if (rest !== '' && rest !== '/') {
    try {
      id = decodeURIComponent(rest.slice(1));
    } catch {
      return fail(400, 'the stream id in the path is not valid URL encoding');
    }
    const problem = streamIdProblem(id);
    if (problem) return refuse('stream-id', 400, problem);
  }
  const reply = (status: number) => (r: ControlResult<unknown>) => {
    if (r.ok) return json(status, r.value ?? {});
    if (r.reason) metrics.refused.inc({ reason: r.reason });
    fail(r.status, r.message);
  };

  if (id === undefined) {
    if (method === 'GET' || method === 'HEAD') return json(200, { streams: controller.list() });
    if (method === 'POST') {
      if (!isJsonContentType(req.headers['content-type']))
        return refuse('content-type', 415, 'POST /streams needs Content-Type: application/json');
      readJson(req, options.maxBodyBytes ?? 64 * 1024, options.bodyTimeoutMs ?? 10_000).then((body) => {
        if (!body.ok) {
          if (body.reason) metrics.refused.inc({ reason: body.reason });
          // A body that did not arrive in time: answer, then cut the connection (it may still be sending).
          if (body.status === 408) res.setHeader('Connection', 'close');
          fail(body.status, body.message);
          if (body.status === 408) res.once('finish', () => req.socket.destroy());
          return;
        }
        runControl(async () => ({ stream: await controller.add(body.value) })).then(reply(201));
      });
      return;
    }
    return fail(405, `method ${method} not allowed on /streams: use GET or POST`, {
      Allow: 'GET, HEAD, POST',
    });
  }
  if (method === 'GET' || method === 'HEAD') {
    const s = controller.get(id);
    return s ? json(200, { stream: s }) : fail(404, `no stream with id "${id}"`);
  }
  if (method === 'DELETE') {
    const removing = id;
    runControl(async () => {
      await controller.remove(removing);
      return { removed: removing };
    }).then(reply(200));
    return;
  }
  fail(405, `method ${method} not allowed on /streams/:id: use GET or DELETE`, {
    Allow: 'GET, HEAD, DELETE',
  });
}

function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && /^application\/json\s*(;|$)/i.test(header.trim());
}

type BodyResult =
  | { ok: true; value: unknown }
  | { ok: false; status: number; reason?: string; message: string };

/** Reads a JSON body within a size and a time limit (a sender of one byte every few seconds must not hold a connection). */
function readJson(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    const finish = (r: BodyResult) => {
      clearTimeout(timer);
      req.removeAllListeners('data');
      resolve(r);
    };
    const timer = setTimeout(() => {
      req.pause();
      finish({
        ok: false,
        status: 408,
        reason: 'body-timeout',
        message: `request body not received within ${timeoutMs} ms`,
      });
    }, timeoutMs);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) tooBig = true;
      else chunks.push(c);
    });
    req.on('error', () => finish({ ok: false, status: 400, message: 'could not read the request body' }));
    req.on('end', () => {
      if (tooBig)
        return finish({
          ok: false,
          status: 413,
          reason: 'body-size',
          message: `request body over ${maxBytes} bytes`,
        });
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '')
        return finish({
          ok: false,
          status: 400,
          message: 'empty body: expected a JSON object describing the stream',
        });
      try {
        finish({ ok: true, value: JSON.parse(text) });
      } catch (e) {
        finish({ ok: false, status: 400, message: `malformed JSON: ${(e as Error).message}` });
      }
    });
  });
}
