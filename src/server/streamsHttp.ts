import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AccessRules, checkAccess } from './auth.js';
import { runControl, type StreamController } from './streams.js';

const MAX_BODY_BYTES = 64 * 1024;

/**
 * `GET /streams`, `POST /streams`, `GET /streams/:id`, `DELETE /streams/:id`: JSON in and out, behind
 * the same token (and origin rule) as the WebSocket hub. Ids may contain '/', so `:id` is the
 * URL-encoded rest of the path.
 */
export function handleStreamsRequest(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  rules: AccessRules,
  controller: StreamController | undefined,
) {
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

  const access = checkAccess(req, url, rules);
  if (!access.ok)
    return fail(access.status, access.message, access.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {});
  if (!controller) return fail(503, 'stream control is not available on this server');

  const rest = url.pathname.slice('/streams'.length);
  let id: string | undefined;
  if (rest !== '' && rest !== '/') {
    try {
      id = decodeURIComponent(rest.slice(1));
    } catch {
      return fail(400, `stream id in ${url.pathname} is not valid URL encoding`);
    }
  }
  const method = req.method ?? 'GET';
  const reply = (status: number) => (r: Awaited<ReturnType<typeof runControl>>) => {
    if (r.ok) json(status, r.value ?? {});
    else fail(r.status, r.message);
  };

  if (id === undefined) {
    if (method === 'GET' || method === 'HEAD') return json(200, { streams: controller.list() });
    if (method === 'POST') {
      readJson(req).then(
        (body) => {
          if (!body.ok) return fail(body.status, body.message);
          runControl(async () => ({ stream: await controller.add(body.value) })).then(reply(201));
        },
        () => fail(400, 'could not read the request body'),
      );
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
    runControl(async () => {
      await controller.remove(id);
      return { removed: id };
    }).then(reply(200));
    return;
  }
  fail(405, `method ${method} not allowed on /streams/:id: use GET or DELETE`, {
    Allow: 'GET, HEAD, DELETE',
  });
}

type BodyResult = { ok: true; value: unknown } | { ok: false; status: number; message: string };

function readJson(req: IncomingMessage): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      else chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (tooBig)
        return resolve({ ok: false, status: 413, message: `request body over ${MAX_BODY_BYTES} bytes` });
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '')
        return resolve({
          ok: false,
          status: 400,
          message: 'empty body: expected a JSON object describing the stream',
        });
      try {
        resolve({ ok: true, value: JSON.parse(text) });
      } catch (e) {
        resolve({ ok: false, status: 400, message: `malformed JSON: ${(e as Error).message}` });
      }
    });
  });
}
