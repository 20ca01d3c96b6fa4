import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { packageVersion } from '../util/paths.js';
import { checkHost, checkToken } from './auth.js';
import type { DeliveryTotals } from './client.js';
import { Hub, type HubOptions } from './hub.js';
import { createMetrics, type MetricsOptions, type ServerMetrics } from './metrics.js';
import type { StatsSnapshot } from './protocol.js';
import { defaultPublicDir, loadStaticFiles } from './static.js';
import { PipelineStats } from './stats.js';
import type { StreamController } from './streams.js';
import { handleStreamsRequest } from './streamsHttp.js';

export interface ServerOptions
  extends Omit<HubOptions, 'version' | 'metrics' | 'totals' | 'logger' | 'boundHost'>,
    MetricsOptions {
  /** TCP port; 0 picks a free one (see `url`). Default 8080. */
  port?: number;
  /** Interface to listen on. Default '127.0.0.1'; use '0.0.0.0' to serve other machines. */
  host?: string;
  /** Folder with the dashboard files. Default: the package's src/server/public. */
  publicDir?: string;
  /** Time a client has to send a request's headers, ms (Node's server.headersTimeout). Default 10 000. */
  headersTimeoutMs?: number;
  /** Time a client has to send a whole request, ms (Node's server.requestTimeout). Default 30 000. */
  requestTimeoutMs?: number;
  /** Time a POST /streams body may take, ms; a slower one is answered 408 and cut. Default 10 000. */
  bodyTimeoutMs?: number;
  logger?: Logger;
}

export interface VitstreamServer {
  hub: Hub;
  metrics: ServerMetrics;
  /**
   * Where the pipeline reports arrivals, drops, batches and source events; its snapshot is
   * published as `stats` every `statsIntervalMs` unless a `statsProvider` was given.
   */
  stats: PipelineStats;
  /** http://host:port/ as actually bound. */
  url: string;
  /** WebSocket endpoint, ws://host:port/ws. */
  wsUrl: string;
  port: number;
  /**
   * Enables run-time stream control (HTTP /streams and the WebSocket add-stream / remove-stream /
   * list-streams messages); until called, those answer 503.
   */
  setStreamController(controller: StreamController | undefined): void;
  /** Closes every client with 1001 and `reason`, stops timers and the HTTP server. Idempotent. */
  close(reason?: string): Promise<void>;
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
};

/** The version the hub's hello reports; a package without a readable version still serves. */
function serverVersion(): string {
  try {
    return packageVersion();
  } catch {
    return '0.0.0';
  }
}

/**
 * Starts the HTTP server: the dashboard on `/`, the WebSocket hub on `/ws`, Prometheus text on
 * `/metrics` (behind the token when one is set) and `/healthz`. Resolves once listening.
 */
export async function createServer(options: ServerOptions = {}): Promise<VitstreamServer> {
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? '127.0.0.1';
  const files = loadStaticFiles(options.publicDir ?? defaultPublicDir());
  const totals: DeliveryTotals = { sent: {}, dropped: 0 };
  const metrics = createMetrics(totals, options);
  const stats = new PipelineStats(metrics, { onEvent: (event) => hub.publishEvent(event) });
  const defaultProvider = (): StatsSnapshot | undefined => {
    const snapshot = stats.snapshot();
    return Object.keys(snapshot.streams).length > 0 ? snapshot : undefined;
  };
  const hub: Hub = new Hub({
    ...options,
    statsProvider: options.statsProvider ?? defaultProvider,
    version: serverVersion(),
    metrics,
    totals,
    boundHost: host,
    logger,
  });
  const rules = { ...options, boundHost: host };
  const startedAt = Date.now();

  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const headersTimeout = Math.min(options.headersTimeoutMs ?? 10_000, requestTimeout);
  // Node checks these timeouts every connectionsCheckingInterval (30 s by default): check each second.
  const server = http.createServer(
    { requestTimeout, headersTimeout, connectionsCheckingInterval: 1000 },
    (req, res) => {
      const send = (
        status: number,
        body: string | Buffer,
        headers: Record<string, string | number> = {},
      ): void => {
        res.writeHead(status, { 'Content-Length': Buffer.byteLength(body), ...headers });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      const text = (status: number, body: string): void =>
        send(status, body, { 'Content-Type': 'text/plain; charset=utf-8' });

      const url = new URL(req.url ?? '/', 'http://localhost');
      // Every path: a page on another name that resolves here (DNS rebinding) must not read the answers.
      const host = checkHost(req, rules);
      if (!host.ok) {
        metrics.refused.inc({ reason: 'host' });
        return text(host.status, `${host.message}\n`);
      }
      if (url.pathname === '/streams' || url.pathname.startsWith('/streams/')) {
        return handleStreamsRequest(
          req,
          res,
          url,
          { rules, metrics, bodyTimeoutMs: options.bodyTimeoutMs },
          hub.streamController,
        );
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return text(405, 'method not allowed: use GET\n');
      }
      if (url.pathname === '/healthz') {
        // Open without a token (load balancers, probes): counts only, never stream ids.
        const body = JSON.stringify({
          status: 'ok',
          uptimeS: Math.round((Date.now() - startedAt) / 1000),
          clients: hub.clientCount,
          streams: hub.streams.length,
        });
        return send(200, body, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      }
      if (url.pathname === '/metrics') {
        const access = checkToken(req, url, options);
        if (!access.ok) return send(401, `${access.message}\n`, { 'WWW-Authenticate': 'Bearer' });
        metrics.text().then(
          (body) => send(200, body, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' }),
          (err: unknown) => {
            logger.error({ err }, 'metrics collection failed');
            text(500, 'metrics collection failed\n');
          },
        );
        return;
      }
      const file = files.get(url.pathname);
      if (file) {
        return send(200, file.body, {
          'Content-Type': file.contentType,
          'Cache-Control': 'no-cache',
          ...SECURITY_HEADERS,
        });
      }
      text(404, 'not found\n');
    },
  );
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  server.on('clientError', (err, socket) => {
    logger.debug({ err }, 'bad HTTP request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new ConfigError(`cannot listen on ${host}:${options.port ?? 8080}: ${err.code ?? err.message}`, {
          input: `${host}:${options.port ?? 8080}`,
          cause: err,
        }),
      );
    };
    server.once('error', onError);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger.error({ err }, 'HTTP server error'));

  const port = (server.address() as AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const url = `http://${hostPart}:${port}/`;
  logger.info({ url }, 'server listening');

  let closing: Promise<void> | undefined;
  const close = (reason = 'server shutting down'): Promise<void> => {
    closing ??= (async () => {
      const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await hub.close(reason);
      server.closeAllConnections();
      await httpClosed;
      logger.info('server closed');
    })();
    return closing;
  };

  return {
    hub,
    metrics,
    stats,
    url,
    wsUrl: `ws://${hostPart}:${port}/ws`,
    port,
    setStreamController: (c) => {
      hub.streamController = c;
    },
    close,
  };
}
