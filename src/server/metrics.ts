import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DeliveryTotals } from './client.js';
import { activeResourceCount, childProcessCount } from './processStats.js';
import type { ServerMessageType } from './protocol.js';

/**
 * The Prometheus metrics of one server, on its own Registry: several servers (or tests) in one
 * process never share or collide. The pipeline increments the frame and engine metrics; the hub
 * maintains the WebSocket ones itself.
 */
export interface ServerMetrics {
  readonly registry: Registry;
  /** Frames that arrived from a source. Labels: stream. */
  readonly framesIn: Counter<'stream'>;
  /** Frames classified. Labels: stream. */
  readonly framesClassified: Counter<'stream'>;
  /** Frames dropped before classification. Labels: stream, reason (e.g. 'engine_behind', 'decode_error'). */
  readonly framesDropped: Counter<'stream' | 'reason'>;
  /** Time of one engine batch, upload to logits, in seconds. */
  readonly batchLatency: Histogram<never>;
  /** Frames per engine batch. */
  readonly batchSize: Histogram<never>;
  /** Frame arrival to prediction, seconds. Observed by the hub for every published prediction. */
  readonly predictionLatency: Histogram<'stream'>;
  /** Fraction of wall time the engine is busy, 0..1. */
  readonly engineUtilization: Gauge<never>;
  /** 1 while a source is delivering frames, 0 while it is down or reconnecting. Labels: stream. */
  readonly streamUp: Gauge<'stream'>;
  /** Source reconnection attempts. Labels: stream. */
  readonly streamReconnects: Counter<'stream'>;
  /** Stall watchdog firings. Labels: stream, kind ('first-frame' | 'no-frame'). */
  readonly streamStalls: Counter<'stream' | 'kind'>;
  /** Source restarts (ffmpeg restarted after a failure, an unexpected end or a stall). Labels: stream. */
  readonly streamRestarts: Counter<'stream'>;
  /** Frames left out on purpose (sampling). Labels: stream, reason ('sampling'). */
  readonly framesSkipped: Counter<'stream' | 'reason'>;
  /** Frame arrival to the start of its engine batch, seconds. Labels: stream. */
  readonly queueDelay: Histogram<'stream'>;
  /** Frames per second arriving / classified, over the stats window. Labels: stream. */
  readonly streamInputFps: Gauge<'stream'>;
  readonly streamClassifiedFps: Gauge<'stream'>;
  /** The batching parameters in use (chosen automatically unless configured). */
  readonly batchMaxSize: Gauge<never>;
  readonly batchMaxDelay: Gauge<never>;
  /** Where GPU memory in use is read at scrape time (the engine's gpuBytes). */
  setGpuBytesProvider(fn: (() => number | undefined) | undefined): void;
  /** Connected WebSocket clients. */
  readonly wsClients: Gauge<never>;
  /** WebSocket upgrades refused. Labels: reason ('auth', 'origin', 'path', 'capacity'). */
  readonly wsRejected: Counter<'reason'>;
  /**
   * Requests and messages refused by a safety check or limit. Labels: reason ('host', 'origin', 'auth',
   * 'content-type', 'body-timeout', 'body-size', 'stream-limit', 'stream-id', 'source', 'subscriptions').
   */
  readonly refused: Counter<'reason'>;
  /** Content type of the text exposition format. */
  readonly contentType: string;
  /** The exposition text, as served on /metrics. */
  text(): Promise<string>;
}

export interface MetricsOptions {
  /** Also collect Node process metrics (CPU, memory, event loop lag, ...). Default false. */
  processMetrics?: boolean;
  /** Extra label set on every metric, e.g. `{instance: 'edge-1'}`. */
  defaultLabels?: Record<string, string>;
}

const PREFIX = 'vitstream_';

export function createMetrics(totals: DeliveryTotals, options: MetricsOptions = {}): ServerMetrics {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  const registers = [registry];

  const framesIn = new Counter({
    name: `${PREFIX}frames_in_total`,
    help: 'Frames that arrived from a source.',
    labelNames: ['stream'] as const,
    registers,
  });
  const framesClassified = new Counter({
    name: `${PREFIX}frames_classified_total`,
    help: 'Frames classified by the engine.',
    labelNames: ['stream'] as const,
    registers,
  });
  const framesDropped = new Counter({
    name: `${PREFIX}frames_dropped_total`,
    help: 'Frames dropped before classification.',
    labelNames: ['stream', 'reason'] as const,
    registers,
  });
  const batchLatency = new Histogram({
    name: `${PREFIX}batch_latency_seconds`,
    help: 'Engine time for one batch, upload to logits.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const batchSize = new Histogram({
    name: `${PREFIX}batch_size`,
    help: 'Frames per engine batch.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers,
  });
  const predictionLatency = new Histogram({
    name: `${PREFIX}prediction_latency_seconds`,
    help: 'Frame arrival to prediction.',
    labelNames: ['stream'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const engineUtilization = new Gauge({
    name: `${PREFIX}engine_utilization_ratio`,
    help: 'Fraction of wall time the engine is busy (0..1).',
    registers,
  });
  const streamUp = new Gauge({
    name: `${PREFIX}stream_up`,
    help: '1 while a source delivers frames, 0 while it is down or reconnecting.',
    labelNames: ['stream'] as const,
    registers,
  });
  const streamReconnects = new Counter({
    name: `${PREFIX}stream_reconnects_total`,
    help: 'Source reconnection attempts.',
    labelNames: ['stream'] as const,
    registers,
  });
  const streamStalls = new Counter({
    name: `${PREFIX}stream_stalls_total`,
    help: 'Stall watchdog firings: no first frame in time, or no frame for too long.',
    labelNames: ['stream', 'kind'] as const,
    registers,
  });
  const streamRestarts = new Counter({
    name: `${PREFIX}stream_restarts_total`,
    help: 'Source restarts after a failure, an unexpected end or a stall.',
    labelNames: ['stream'] as const,
    registers,
  });
  const framesSkipped = new Counter({
    name: `${PREFIX}frames_skipped_total`,
    help: 'Frames left out on purpose (sampling), not classified.',
    labelNames: ['stream', 'reason'] as const,
    registers,
  });
  const queueDelay = new Histogram({
    name: `${PREFIX}queue_delay_seconds`,
    help: 'Frame arrival to the start of its engine batch.',
    labelNames: ['stream'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const streamInputFps = new Gauge({
    name: `${PREFIX}stream_input_fps`,
    help: 'Frames per second arriving from the source (stats window).',
    labelNames: ['stream'] as const,
    registers,
  });
  const streamClassifiedFps = new Gauge({
    name: `${PREFIX}stream_classified_fps`,
    help: 'Frames per second classified (stats window).',
    labelNames: ['stream'] as const,
    registers,
  });
  const batchMaxSize = new Gauge({
    name: `${PREFIX}batch_max_size`,
    help: 'Largest batch the pipeline forms.',
    registers,
  });
  const batchMaxDelay = new Gauge({
    name: `${PREFIX}batch_max_delay_seconds`,
    help: 'Longest a frame waits for companions before its batch goes out.',
    registers,
  });
  let gpuBytes: (() => number | undefined) | undefined;
  new Gauge({
    name: `${PREFIX}gpu_memory_bytes`,
    help: 'GPU memory held by the engine (weights and activations).',
    registers,
    collect() {
      const v = gpuBytes?.();
      if (v !== undefined) this.set(v);
    },
  });
  new Gauge({
    name: `${PREFIX}process_rss_bytes`,
    help: 'Resident set size of the server process.',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: `${PREFIX}process_heap_used_bytes`,
    help: 'V8 heap in use.',
    registers,
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  new Gauge({
    name: `${PREFIX}process_active_handles`,
    help: 'Handles and requests keeping the event loop alive (sockets, timers, child processes).',
    registers,
    collect() {
      this.set(activeResourceCount());
    },
  });
  new Gauge({
    name: `${PREFIX}ffmpeg_processes`,
    help: 'ffmpeg child processes alive.',
    registers,
    collect() {
      const n = childProcessCount('ffmpeg');
      if (n !== undefined) this.set(n);
    },
  });
  const wsClients = new Gauge({
    name: `${PREFIX}ws_clients`,
    help: 'Connected WebSocket clients.',
    registers,
  });
  const wsRejected = new Counter({
    name: `${PREFIX}ws_rejected_total`,
    help: 'WebSocket upgrades refused.',
    labelNames: ['reason'] as const,
    registers,
  });
  const refused = new Counter({
    name: `${PREFIX}refused_total`,
    help: 'Requests and messages refused by a safety check or limit.',
    labelNames: ['reason'] as const,
    registers,
  });
  // Per-message counting happens in plain numbers on the hot path; these read them at scrape time.
  new Counter({
    name: `${PREFIX}ws_messages_sent_total`,
    help: 'Messages written to WebSocket clients.',
    labelNames: ['type'] as const,
    registers,
    collect() {
      this.reset();
      for (const [type, n] of Object.entries(totals.sent) as Array<[ServerMessageType, number]>) {
        this.inc({ type }, n);
      }
    },
  });
  new Counter({
    name: `${PREFIX}ws_messages_dropped_total`,
    help: 'Messages dropped for WebSocket clients that read too slowly.',
    registers,
    collect() {
      this.reset();
      this.inc(totals.dropped);
    },
  });
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: PREFIX });

  return {
    registry,
    framesIn,
    framesClassified,
    framesDropped,
    batchLatency,
    batchSize,
    predictionLatency,
    engineUtilization,
    streamUp,
    streamReconnects,
    streamStalls,
    streamRestarts,
    framesSkipped,
    queueDelay,
    streamInputFps,
    streamClassifiedFps,
    batchMaxSize,
    batchMaxDelay,
    setGpuBytesProvider: (fn) => {
      gpuBytes = fn;
    },
    wsClients,
    wsRejected,
    refused,
    contentType: registry.contentType,
    text: () => registry.metrics(),
  };
}
