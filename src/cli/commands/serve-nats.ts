import { closeNats, connectNats, redact } from '../../cluster/connect.js';
import { createClusterStreamControl } from '../../cluster/feed-control.js';
import { openBuckets } from '../../cluster/layout.js';
import { relayLiveToHub } from '../../cluster/live-relay.js';
import { registerClusterGauges } from '../../cluster/metrics.js';
import { InputError } from '../../errors.js';
import { DEFAULT_MAX_STREAMS } from '../../serve-config.js';
import { createServer } from '../../server/server.js';
import type { Logger } from '../../util/logger.js';
import { parseNonNegativeInt, parsePositiveInt } from '../options.js';

/**
 * `vitstream serve --nats URL` without local feeds: no engine here, the dashboard and WebSocket
 * clients are fed from every worker's live subjects. Auth to NATS: the URL (user:pass@) or $NATS_TOKEN.
 */
export async function serveFromNats(
  f: {
    nats: string;
    port?: string;
    host?: string;
    token?: string;
    maxStreams?: string;
    localFeeds: boolean;
  },
  logger: Logger,
): Promise<void> {
  if (f.localFeeds)
    throw new InputError(
      "--nats: serve shows the cluster's feeds and runs none itself; add local feeds to the cluster with `vitstream feeds add`",
      {
        input: '--nats',
      },
    );
  const port = f.port === undefined ? 8080 : parseNonNegativeInt(f.port, '--port');
  const maxStreams =
    f.maxStreams === undefined ? DEFAULT_MAX_STREAMS : parsePositiveInt(f.maxStreams, '--max-streams');
  const nc = await connectNats({ url: f.nats, token: process.env.NATS_TOKEN, name: 'vitstream serve' });
  const server = await createServer({
    host: f.host,
    port,
    token: f.token ?? process.env.VITSTREAM_TOKEN,
    logger,
  });
  const relay = relayLiveToHub(nc, server, logger);
  // POST/DELETE /streams and add-stream / remove-stream define and delete cluster feeds.
  const control = await createClusterStreamControl(nc, {
    maxStreams,
    onChange: (c) => c.type === 'removed' && server.hub.removeStream(c.id),
    logger,
  });
  server.setStreamController(control);
  // Cluster totals beside this node's own metrics, read from the heartbeats at each scrape.
  registerClusterGauges(server.metrics.registry, (await openBuckets(nc)).workers);
  process.stderr.write(
    `vitstream: serving the cluster's live feeds from ${redact(f.nats)} on ${server.url} (dashboard), ${server.wsUrl} (WebSocket), ${server.url}metrics\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  relay.stop();
  control.stop();
  await server.close('server shutting down');
  await closeNats(nc);
}
