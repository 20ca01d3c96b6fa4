/**
 * Live feeds (cameras, stream URLs, or files played as if live) -> engine -> WebSocket hub, with the
 * dashboard on http://127.0.0.1:PORT/ and Prometheus metrics on /metrics.
 *
 *   node dist/examples/live-to-hub.js <source...> [--port 8080] [--fps 5]
 *     [--model vit-b16-224 | config.json] [--weights file] [--realtime --loop]   (the last two: for files)
 *
 *   sources: /dev/video0, rtsp://camera/stream, https://host/live.m3u8, or clip.mp4 with --realtime
 *
 * This is the composition `vitstream serve` (runDashboardPipeline) is built from, spelled out:
 * liveFeeds (reconnecting decoders, drops when behind) -> classify (errors skipped, not fatal) ->
 * hub.publish, with source events and batch timings fed to the server's stats.
 */
import { parseArgs } from 'node:util';
import { classify, createServer, liveFeeds, openEngine, type VideoSource } from '../src/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    fps: { type: 'string', default: '5' },
    model: { type: 'string' },
    weights: { type: 'string' },
    realtime: { type: 'boolean', default: false },
    loop: { type: 'boolean', default: false },
  },
});
if (positionals.length === 0) {
  console.error(
    'usage: live-to-hub <source...> [--port 8080] [--fps 5] [--model m] [--weights w] [--realtime --loop]',
  );
  process.exit(2);
}

const fps = Number(values.fps);
if (!(fps > 0)) {
  console.error(`live-to-hub: --fps: expected a positive number, got "${values.fps}"`);
  process.exit(2);
}
// Expected failures (no weights, a port in use) are one line, not a stack trace.
const fail = (e: unknown): never => {
  console.error(`live-to-hub: ${(e as Error).message}`);
  process.exit(2);
};
const engine = await openEngine({ model: values.model, weights: values.weights, maxBatch: 16 }).catch(fail);
const server = await createServer({ port: Number(values.port), host: values.host }).catch(fail);
const sources: VideoSource[] = positionals.map((url) => ({
  url,
  realtime: values.realtime,
  loop: values.loop,
}));
const feeds = liveFeeds(sources, {
  size: engine.config.imageSize,
  maxBatch: engine.maxBatch,
  // A frame waits at most this long for companions before its batch goes.
  maxDelayMs: 50,
  sample: { fps },
});
server.hub.setStreams(positionals);

const events = feeds.events.subscribe((ev) => {
  // 'added'/'removed' are about the feed list (liveFeeds.add/remove); the rest are a source's life.
  if (ev.type === 'added' || ev.type === 'removed') return;
  server.stats.sourceEvent(ev);
  // One line per thing worth knowing, with its reason; 'started' and the periodic 'stats' stay quiet.
  if (ev.type === 'error') console.error(`${ev.streamId}: ${ev.error.message}`);
  else if (ev.type === 'reconnecting')
    console.error(`${ev.streamId}: retry ${ev.attempt} in ${(ev.delayMs / 1000).toFixed(1)} s`);
  else if (ev.type === 'stalled') console.error(`${ev.streamId}: stalled (${ev.kind}), restarting`);
  else if (ev.type === 'recovered') console.error(`${ev.streamId}: back after ${ev.restarts} restart(s)`);
  else if (ev.type === 'ended' && ev.reason !== 'unsubscribed')
    console.error(`${ev.streamId}: ended (${ev.reason}) after ${ev.frames} frames`);
});
const predictions = feeds.batches
  .pipe(
    classify(engine, {
      topK: 5,
      errors: 'skip',
      onError: (e, frames) =>
        console.error(`batch of ${frames.length} frames failed: ${(e as Error).message}`),
      onBatch: ({ count, engineMs }) => server.stats.batch({ size: count, latencyMs: engineMs }),
    }),
  )
  .subscribe((p) => {
    server.stats.classified(p); // the pipeline counts; the hub only fans out
    server.hub.publish(p);
  });

console.error(
  `dashboard ${server.url}  websocket ${server.wsUrl}  metrics ${server.url}metrics  (Ctrl-C stops)`,
);

const stop = async () => {
  predictions.unsubscribe(); // stops every ffmpeg
  events.unsubscribe();
  await server.close('server shutting down');
  await engine.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
