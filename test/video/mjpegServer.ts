import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ffmpeg } from './media.js';

/**
 * A camera stand-in: multipart MJPEG over HTTP on 127.0.0.1 at `fps`, looping over JPEGs made by
 * ffmpeg. `dropAfter` frames into each of the first `drops` connections it cuts the socket. A
 * camera that misbehaves on purpose: each connection gets frames only from `startAfterMs`
 * (Infinity: never) to `stopAfterMs` or `stopAfterFrames` (after that the connection stays open, silent).
 */
export async function startMjpegServer(
  dir: string,
  opts: {
    fps?: number;
    dropAfter?: number;
    drops?: number;
    startAfterMs?: number;
    stopAfterMs?: number;
    /** Like stopAfterMs, counted in frames: a busy machine cannot shrink what a connection gets. */
    stopAfterFrames?: number;
  } = {},
) {
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=64x48:rate=10',
    '-frames:v',
    '10',
    '-q:v',
    '5',
    path.join(dir, 'cam-%02d.jpg'),
  ]);
  const jpegs = readdirSync(dir)
    .filter((n) => n.startsWith('cam-'))
    .sort()
    .map((n) => readFileSync(path.join(dir, n)));
  let connections = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const conn = ++connections;
    res.writeHead(200, {
      'Content-Type': 'multipart/x-mixed-replace; boundary=frame',
      'Cache-Control': 'no-cache',
    });
    let sent = 0;
    const t0 = Date.now();
    const timer = setInterval(
      () => {
        const t = Date.now() - t0;
        if (t < (opts.startAfterMs ?? 0) || t > (opts.stopAfterMs ?? Number.POSITIVE_INFINITY)) return;
        if (sent >= (opts.stopAfterFrames ?? Number.POSITIVE_INFINITY)) return;
        const jpeg = jpegs[sent % jpegs.length];
        res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
        res.write(jpeg);
        res.write('\r\n');
        sent++;
        if (opts.dropAfter !== undefined && conn <= (opts.drops ?? 1) && sent >= opts.dropAfter) {
          clearInterval(timer);
          req.socket.destroy();
        }
      },
      1000 / (opts.fps ?? 20),
    );
    req.on('close', () => clearInterval(timer));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/cam.mjpg`,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
