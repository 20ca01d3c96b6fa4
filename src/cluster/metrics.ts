import http from 'node:http';
import type { KV } from '@nats-io/kv';
import { Counter, collectDefaultMetrics, Gauge, Registry as PromRegistry, type Registry } from 'prom-client';
import { ClusterError } from '../errors.js';
import { decode, WorkerRecord } from './messages.js';

/** One worker's Prometheus metrics, on its own registry. */
export interface WorkerMetrics {
  registry: Registry;
  /** Files finished. Labels: result ('done' | 'retried' | 'dead'). */
  files: Counter<'result'>;
  /** Predictions published. Labels: kind ('file' | 'live'). */
  predictions: Counter<'kind'>;
  filesBusy: Gauge<never>;
  feedsOwned: Gauge<never>;
}

export function createWorkerMetrics(): WorkerMetrics {
  const registry = new PromRegistry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    files: new Counter({
      name: 'vitstream_worker_files_total',
      help: 'Files finished, by result',
      labelNames: ['result'],
      registers,
    }),
    predictions: new Counter({
      name: 'vitstream_worker_predictions_total',
      help: 'Predictions published',
      labelNames: ['kind'],
      registers,
    }),
    filesBusy: new Gauge({
      name: 'vitstream_worker_files_busy',
      help: 'Files being classified now',
      registers,
    }),
    feedsOwned: new Gauge({
      name: 'vitstream_worker_feeds',
      help: 'Live feeds this worker holds leases on',
      registers,
    }),
  };
}

/** GET /metrics on host:port (the worker has no other HTTP surface); resolves with the bound port. */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end(http.STATUS_CODES[404]);
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500).end(http.STATUS_CODES[500]),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new ClusterError(`--metrics-port: cannot listen on ${host}:${port}: ${err.code ?? err.message}`, {
          input: '--metrics-port',
          cause: err,
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  return { port: bound, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * Cluster totals for the serving node's registry, read from the workers' heartbeats at each scrape:
 * workers alive, files in progress, feeds running, capacity.
 */
export function registerClusterGauges(registry: Registry, workers: KV): void {
  const read = async () => {
    const records: WorkerRecord[] = [];
    for await (const key of await workers.keys()) {
      const e = await workers.get(key).catch(() => null);
      if (e?.operation !== 'PUT') continue;
      try {
        records.push(decode(WorkerRecord, e.value, key));
      } catch {
        // not a worker
      }
    }
    return records;
  };
  const gauge = (name: string, help: string, value: (r: WorkerRecord[]) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(value(await read().catch(() => [])));
      },
    });
  gauge('vitstream_cluster_workers', 'Workers with a live heartbeat', (r) => r.length);
  gauge('vitstream_cluster_files_busy', 'Files being classified across the cluster', (r) =>
    r.reduce((a, w) => a + w.busy.length, 0),
  );
  gauge('vitstream_cluster_feeds', 'Live feeds running across the cluster', (r) =>
    r.reduce((a, w) => a + w.feeds.length, 0),
  );
  gauge('vitstream_cluster_feed_capacity', 'Live feeds the cluster can run', (r) =>
    r.reduce((a, w) => a + w.capacity.feeds, 0),
  );
}
