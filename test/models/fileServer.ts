import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface Hit {
  path: string;
  range: string | undefined;
  status: number;
}

/**
 * A small HTTP server over a folder, with misbehaviours chosen by the first path segment:
 * `/ok/f` honours Range; `/norange/f` ignores it (200 with the whole file); `/drop/f`, while `drops` lasts,
 * sends `dropAfter` body bytes and holds the connection until `cut()` destroys it (so a test can wait
 * until the client has stored those bytes: a socket destroyed at once may lose data still in flight),
 * then behaves like /ok; `/redirect/f` sends 302 to /ok/f; `/stall/f` sends headers and then nothing.
 */
export class FileServer {
  readonly hits: Hit[] = [];
  drops = 0;
  dropAfter = 0;
  private held: http.ServerResponse[] = [];
  private readonly server: http.Server;
  private readonly cache = new Map<string, Buffer>();

  constructor(private readonly root: string) {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Destroys the connections /drop/ is holding. */
  cut(): void {
    for (const res of this.held.splice(0)) res.socket?.destroy();
  }

  hitsFor(file: string): Hit[] {
    return this.hits.filter((h) => h.path.endsWith(`/${file}`));
  }

  private file(name: string): Buffer | undefined {
    if (!this.cache.has(name)) {
      try {
        this.cache.set(name, readFileSync(path.join(this.root, path.basename(name))));
      } catch {
        return undefined;
      }
    }
    return this.cache.get(name);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const [, mode = '', name = ''] = (req.url ?? '').split('/');
    const range = req.headers.range;
    const record = (status: number) => this.hits.push({ path: req.url ?? '', range, status });
    if (mode === 'redirect') {
      record(302);
      res.writeHead(302, { location: `/ok/${name}` }).end();
      return;
    }
    const body = this.file(name);
    if (!body) {
      record(404);
      res.writeHead(404).end('not found');
      return;
    }
    if (mode === 'stall') {
      record(200);
      res.writeHead(200, { 'content-length': body.length });
      res.flushHeaders();
      return;
    }
    const honourRange = mode === 'ok' || mode === 'drop';
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    let start = 0;
    if (honourRange && m) {
      start = Number(m[1]);
      if (start >= body.length) {
        record(416);
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      record(206);
      res.writeHead(206, {
        'content-length': body.length - start,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    } else {
      record(200);
      res.writeHead(200, { 'content-length': body.length });
    }
    const rest = body.subarray(start);
    if (mode === 'drop' && this.drops > 0) {
      this.drops--;
      res.write(rest.subarray(0, this.dropAfter));
      this.held.push(res);
      return;
    }
    res.end(rest);
  }
}
