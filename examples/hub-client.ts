/**
 * A WebSocket client of `vitstream serve` (or live-to-hub): subscribes and prints predictions.
 *
 *   node dist/examples/hub-client.js [ws://127.0.0.1:8080/ws] [--streams cam1,cam2] [--token T] [--count N]
 *
 * One line per prediction (stream, frame, best class and score), a line per stats message, and a
 * warning when the server had to drop messages because this client read too slowly. --count N
 * exits after N predictions.
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { ALL_STREAMS, type ServerMessage } from '../src/index.js';

const USAGE = 'usage: hub-client [ws://host:port/ws] [--streams a,b] [--token T] [--count N]';
function usage(problem: string): never {
  console.error(`hub-client: ${problem}\n${USAGE}`);
  process.exit(2);
}
const parseCommandLine = () =>
  parseArgs({
    allowPositionals: true,
    options: {
      streams: { type: 'string', default: ALL_STREAMS },
      token: { type: 'string' },
      count: { type: 'string' },
    },
  });
let parsed: ReturnType<typeof parseCommandLine>;
try {
  parsed = parseCommandLine();
} catch (e) {
  usage((e as Error).message);
}
const { values, positionals } = parsed;
let url: URL;
try {
  url = new URL(positionals[0] ?? 'ws://127.0.0.1:8080/ws');
} catch {
  usage(`"${positionals[0]}" is not a URL (expected e.g. ws://127.0.0.1:8080/ws)`);
}
if (url.protocol !== 'ws:' && url.protocol !== 'wss:') usage(`${url.href}: expected a ws:// or wss:// URL`);
if (values.token) url.searchParams.set('token', values.token);
const limit = values.count ? Number(values.count) : Number.POSITIVE_INFINITY;
if (!(limit >= 1)) usage(`--count: expected a positive number, got "${values.count}"`);
const wanted = values.streams!.split(',');
let received = 0;

const ws = new WebSocket(url);
ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', streams: wanted })));
ws.on('unexpected-response', (_req, res) => {
  console.error(
    `${url.origin}: HTTP ${res.statusCode}${res.statusCode === 401 ? ' (wrong or missing --token)' : ''}`,
  );
  process.exit(1);
});
ws.on('error', (e) => {
  console.error(`${url.origin}: ${e.message}`);
  process.exit(1);
});
ws.on('close', (code, reason) => {
  console.error(`closed ${code}${reason.length ? ` (${reason})` : ''}`);
  process.exit(code === 1000 || code === 1001 ? 0 : 1);
});
ws.on('message', (data) => {
  const msg = JSON.parse(String(data)) as ServerMessage;
  switch (msg.type) {
    case 'hello':
      console.log(
        `connected to vitstream ${msg.version}; streams: ${msg.streams.join(', ') || '(none yet)'}`,
      );
      // A misspelt stream would otherwise mean waiting in silence.
      for (const id of wanted)
        if (id !== ALL_STREAMS && !msg.streams.includes(id))
          console.error(`hub-client: no stream "${id}" on this server yet; waiting for it`);
      break;
    case 'prediction': {
      const best = msg.top[0];
      console.log(
        `${msg.streamId}  frame ${msg.frame}  ${(msg.ptsMs / 1000).toFixed(2)} s  ${best?.label} ${((best?.score ?? 0) * 100).toFixed(1)}%  latency ${Math.round(msg.latencyMs)} ms`,
      );
      if (++received >= limit) ws.close(1000, 'done');
      break;
    }
    case 'stats':
      for (const [id, s] of Object.entries(msg.streams))
        console.log(
          `stats ${id}: in ${s.fpsIn ?? '-'} fps, classified ${s.fpsClassified ?? '-'} fps, dropped ${s.dropped ?? 0}`,
        );
      break;
    case 'event':
      console.log(`event ${msg.streamId ?? ''} ${msg.kind}: ${msg.message}`);
      break;
    case 'missed':
      console.warn(`missed ${msg.count} messages (reading too slowly)`);
      break;
    case 'error':
      console.error(`server says: ${msg.message}`);
      break;
  }
});
