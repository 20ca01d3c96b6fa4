import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { Prediction } from '../predictions.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { redactCredentials } from '../util/redact.js';
import type { AccessRules } from './auth.js';
import { ClientChannel, type ClientSnapshot, type DeliveryTotals } from './client.js';
import { EventHistory } from './eventHistory.js';
import type { ServerMetrics } from './metrics.js';
import {
  ALL_STREAMS,
  type ClientMessage,
  MAX_SUBSCRIPTIONS_PER_CLIENT,
  type PredictionMessage,
  parseClientMessage,
  type ServerEvent,
  type ServerMessage,
  type StatsMessage,
  type StatsSnapshot,
} from './protocol.js';
import type { StreamController } from './streams.js';
import { handleControlMessage } from './streamsWs.js';
import { type SubscriptionRules, subscribe, unsubscribe } from './subscriptions.js';
import { ThumbnailRate, type ThumbnailSource } from './thumbnail.js';
import { admitUpgrade } from './upgrade.js';

export interface HubOptions extends AccessRules {
  /** Version string sent in `hello`. */
  version: string;
  metrics: ServerMetrics;
  totals: DeliveryTotals;
  /** The address the server is bound to: a Host header naming it passes the rebinding check. */
  boundHost?: string;
  /** Path that accepts WebSocket upgrades. Default '/ws'. */
  path?: string;
  /** Max messages queued per client beyond the socket buffer before the oldest is dropped. Default 256. */
  maxClientQueue?: number;
  /** Max bytes queued per client beyond the socket buffer. Default 4 MiB. */
  maxClientQueueBytes?: number;
  /** Socket buffer (ws.bufferedAmount) above which a client's messages are queued. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Unflushed socket writes above which a client's messages are queued. Default 256. */
  maxInFlight?: number;
  /** Largest incoming message, bytes; larger ones close the socket with 1009. Default 64 KiB. */
  maxPayload?: number;
  /** Upgrades beyond this many clients get 503. Default 1000. */
  maxClients?: number;
  /** Bad messages a client may send before it is closed with 1008. Default 50. */
  maxClientErrors?: number;
  /** Ping interval; a client silent for two intervals is terminated. Default 30 000 ms. */
  heartbeatMs?: number;
  /** Thumbnails: longer side in pixels (default 64) and per-stream rate (default 2/s; 0 = no limit). */
  thumbnail?: { size?: number; fps?: number };
  /** If given, polled every `statsIntervalMs` (default 1000) and the result published as `stats`. */
  statsProvider?: () => StatsSnapshot | undefined;
  statsIntervalMs?: number;
  /**
   * On close(): time a client gets to take what was published before it, then again to finish the
   * closing handshake, before it is cut. Default 2000 ms (a loaded machine's client can lag by a second).
   */
  closeGraceMs?: number;
  /** Events kept to replay to a client when it subscribes (default 100). */
  eventHistory?: number;
  /** Subscriptions one client may hold in all (default 1024; '*' counts as one). */
  maxSubscriptions?: number;
  logger?: Logger;
}

export type { ThumbnailSource };

export interface PublishOptions {
  thumbnail?: ThumbnailSource;
}

/** Close reasons travel in a control frame: at most 123 bytes of UTF-8. */
function closeReason(reason: string): string {
  const buf = Buffer.from(reason, 'utf8');
  return buf.length <= 123
    ? reason
    : buf
        .subarray(0, 120)
        .toString('utf8')
        .replace(/\uFFFD+$/, '');
}

/**
 * Fans predictions, stats and events out to WebSocket clients. Each client gets its own bounded
 * queue (see ClientChannel), so publishing is synchronous, cheap and never waits for a reader.
 */
export class Hub {
  private readonly wss: WebSocketServer;
  private readonly channels = new Map<WebSocket, ClientChannel>();
  private readonly knownStreams = new Set<string>();
  private readonly thumbnails: ThumbnailRate;
  private readonly history: EventHistory;
  private readonly subscriptionRules: SubscriptionRules;
  /** The event count when each client connected: events for every client after it, it has had. */
  private readonly joinedAt = new WeakMap<ClientChannel, number>();
  private readonly logger: Logger;
  private readonly path: string;
  private readonly heartbeatMs: number;
  private readonly timers: NodeJS.Timeout[] = [];
  private nextId = 1;
  private closing: Promise<void> | undefined;
  /** Set by the pipeline (server.setStreamController) to accept add/remove/list-streams messages. */
  streamController: StreamController | undefined;

  constructor(private readonly options: HubOptions) {
    this.logger = options.logger ?? silentLogger;
    this.history = new EventHistory(options.eventHistory ?? 100);
    this.subscriptionRules = {
      max: options.maxSubscriptions ?? MAX_SUBSCRIPTIONS_PER_CLIENT,
      history: this.history,
      metrics: options.metrics,
    };
    this.path = options.path ?? '/ws';
    this.heartbeatMs = options.heartbeatMs ?? 30_000;
    this.thumbnails = new ThumbnailRate(options.thumbnail?.size ?? 64, options.thumbnail?.fps ?? 2);
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxPayload ?? 64 * 1024,
    });
    this.wss.on('connection', (ws: WebSocket) => this.onConnection(ws));
    if (this.heartbeatMs > 0) this.every(this.heartbeatMs, () => this.heartbeat());
    const provider = options.statsProvider;
    if (provider) {
      this.every(options.statsIntervalMs ?? 1000, () => {
        // A timer callback that throws would take the process down; a bad stats source must not.
        try {
          const snapshot = provider();
          if (snapshot) this.publishStats(snapshot);
        } catch (err) {
          this.logger.warn({ err }, 'stats provider failed');
        }
      });
    }
  }

  get clientCount(): number {
    return this.channels.size;
  }

  /** Stream ids the hub knows of: declared with setStreams or seen in published messages. */
  get streams(): string[] {
    return [...this.knownStreams].sort();
  }

  /** Per-client queue figures, for diagnostics and tests. */
  clients(): ClientSnapshot[] {
    return [...this.channels.values()].map((c) => c.snapshot());
  }

  /** Handles an HTTP upgrade request: checks path, Host, Origin, token and capacity (see upgrade.ts), then accepts. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => this.logger.debug({ err }, 'upgrade socket error'));
    const admitted = admitUpgrade(req, socket, {
      path: this.path,
      rules: this.options,
      metrics: this.options.metrics,
      logger: this.logger,
      unavailable: () =>
        this.closing
          ? 'closing'
          : this.channels.size >= (this.options.maxClients ?? 1000)
            ? 'capacity'
            : undefined,
    });
    if (admitted) this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  /** Declares the stream ids (e.g. from the config) so that clients learn them before any prediction. */
  setStreams(ids: readonly string[]): void {
    this.knownStreams.clear();
    for (const id of ids) this.knownStreams.add(id);
    this.broadcast({ type: 'streams', streams: this.streams });
  }

  /** Forgets a stream removed at run time: clients get the new `streams` list. */
  removeStream(id: string): void {
    this.thumbnails.forget(id);
    this.history.forget(id);
    if (this.knownStreams.delete(id)) this.broadcast({ type: 'streams', streams: this.streams });
  }

  /**
   * True if a thumbnail for this stream would be sent now: someone is subscribed and the
   * per-stream rate allows it. Lets the pipeline skip copying pixels it would throw away.
   */
  wantsThumbnail(streamId: string): boolean {
    if (!this.thumbnails.due(streamId)) return false;
    for (const c of this.channels.values()) if (c.wants(streamId)) return true;
    return false;
  }

  /**
   * Sends a prediction to the clients subscribed to its stream. A thumbnail, if given, is encoded now
   * and only when the rate limit allows. Counting is the caller's (the pipeline's stats).
   */
  publish(prediction: Prediction, options: PublishOptions = {}): void {
    const { streamId } = prediction;
    this.noteStream(streamId);
    const targets = this.subscribersOf(streamId);
    if (targets.length === 0) return;
    const message: PredictionMessage = {
      type: 'prediction',
      streamId,
      frame: prediction.frame,
      ptsMs: prediction.ptsMs,
      receivedAtMs: prediction.receivedAtMs,
      receivedAt: isoTime(prediction.receivedAtMs),
      latencyMs: prediction.latencyMs,
      ...(prediction.file !== undefined && { file: prediction.file }),
      top: prediction.top,
    };
    if (options.thumbnail && this.wantsThumbnail(streamId)) {
      try {
        message.thumbnail = this.thumbnails.take(streamId, options.thumbnail);
      } catch (err) {
        this.logger.warn({ err, streamId }, 'thumbnail skipped');
      }
    }
    const data = encode(message);
    for (const c of targets) c.send(data, 'prediction');
  }

  /** Sends stats; each client sees only the streams it subscribes to (engine figures go to all). */
  publishStats(snapshot: StatsSnapshot): void {
    for (const id of Object.keys(snapshot.streams)) this.noteStream(id);
    const atMs = Date.now();
    const byKey = new Map<string, Buffer | null>();
    for (const c of this.channels.values()) {
      if (!c.hasSubscriptions) continue;
      const key = c.subscriptionKey;
      let data = byKey.get(key);
      if (data === undefined) {
        const streams: StatsMessage['streams'] = {};
        for (const [id, s] of Object.entries(snapshot.streams)) if (c.wants(id)) streams[id] = s;
        const message: StatsMessage = { type: 'stats', atMs, streams };
        if (snapshot.engine) message.engine = snapshot.engine;
        data = Object.keys(streams).length > 0 || snapshot.engine ? encode(message) : null;
        byKey.set(key, data);
      }
      if (data !== null) c.send(data, 'stats');
    }
  }

  /** Sends an event: to a stream's subscribers if it names a stream, else to every client. */
  publishEvent(event: ServerEvent): void {
    if (event.streamId !== undefined) this.noteStream(event.streamId);
    // Source errors quote ffmpeg, which quotes the URL: no credentials may go out with it.
    const message = {
      ...event,
      message: redactCredentials(event.message),
      type: 'event' as const,
      atMs: Date.now(),
    };
    const data = encode(message);
    this.history.add(event.streamId, encode({ ...message, replayed: true }));
    for (const c of this.channels.values()) {
      if (event.streamId === undefined || c.wants(event.streamId)) c.send(data, 'event');
    }
  }

  /** Closes every client (they may reconnect), e.g. after rotating the token. */
  disconnectAll(code = 1012, reason = 'server restarting'): void {
    for (const c of this.channels.values()) {
      c.clear();
      c.ws.close(code, closeReason(reason));
    }
  }

  /** Closes all clients with 1001 and stops timers. Resolves once every socket is gone. */
  close(reason = 'server shutting down'): Promise<void> {
    this.closing ??= this.doClose(reason);
    return this.closing;
  }

  private async doClose(reason: string): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    const graceMs = this.options.closeGraceMs ?? 2000;
    // What was published before the close reaches clients that keep reading; one that stopped reading
    // holds the close up by the grace period at most.
    await Promise.all([...this.channels.values()].map((c) => c.drain(graceMs)));
    await Promise.all(
      [...this.channels.values()].map(
        (c) =>
          new Promise<void>((resolve) => {
            const ws = c.ws;
            c.clear();
            if (ws.readyState === ws.CLOSED) return resolve();
            // A client that stopped reading never completes the closing handshake: cut it after the grace period.
            const timer = setTimeout(() => ws.terminate(), graceMs);
            ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            ws.close(1001, closeReason(reason));
          }),
      ),
    );
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private subscribersOf(streamId: string): ClientChannel[] {
    const out: ClientChannel[] = [];
    for (const c of this.channels.values()) if (c.wants(streamId)) out.push(c);
    return out;
  }

  private noteStream(id: string): void {
    if (this.knownStreams.has(id)) return;
    this.knownStreams.add(id);
    this.broadcast({ type: 'streams', streams: this.streams });
  }

  private broadcast(message: ServerMessage): void {
    const data = encode(message);
    for (const c of this.channels.values()) c.send(data, message.type);
  }

  private onConnection(ws: WebSocket): void {
    const { metrics, totals } = this.options;
    const channel = new ClientChannel(
      this.nextId++,
      ws,
      {
        maxQueue: this.options.maxClientQueue ?? 256,
        maxQueueBytes: this.options.maxClientQueueBytes ?? 4 * 1024 * 1024,
        maxBufferedBytes: this.options.maxBufferedBytes ?? 1024 * 1024,
        maxInFlight: this.options.maxInFlight ?? 256,
      },
      totals,
    );
    this.channels.set(ws, channel);
    this.joinedAt.set(channel, this.history.next);
    metrics.wsClients.set(this.channels.size);
    let errors = 0;
    const maxErrors = this.options.maxClientErrors ?? 50;

    ws.on('pong', () => {
      channel.alive = true;
    });
    ws.on('error', (err) => {
      // ws follows an error (oversized frame: 1009, bad framing: 1002) with a close; just note it.
      this.logger.debug({ err, client: channel.id }, 'WebSocket client error');
    });
    ws.on('close', () => {
      channel.clear();
      this.channels.delete(ws);
      metrics.wsClients.set(this.channels.size);
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      channel.alive = true;
      const reply = (message: ServerMessage): void => channel.send(encode(message), message.type);
      const fail = (message: string, status?: number): void => {
        reply(status === undefined ? { type: 'error', message } : { type: 'error', status, message });
        if (++errors >= maxErrors) ws.close(1008, 'too many invalid messages');
      };
      if (isBinary) return fail('binary messages are not accepted: send JSON text');
      const parsed = parseClientMessage(rawText(data));
      if (!parsed.ok) return fail(parsed.error, 400);
      this.onClientMessage(channel, parsed.message, reply, fail);
    });

    channel.send(
      encode({
        type: 'hello',
        version: this.options.version,
        streams: this.streams,
        heartbeatMs: this.heartbeatMs,
      }),
      'hello',
    );
  }

  private onClientMessage(
    channel: ClientChannel,
    message: ClientMessage,
    reply: (m: ServerMessage) => void,
    fail: (message: string, status: number) => void,
  ): void {
    switch (message.type) {
      case 'subscribe':
        subscribe(
          channel,
          message.streams,
          this.joinedAt.get(channel) ?? 0,
          this.subscriptionRules,
          reply,
          fail,
        );
        break;
      case 'unsubscribe':
        unsubscribe(channel, message.streams, reply);
        break;
      case 'ping':
        reply(message.id === undefined ? { type: 'pong' } : { type: 'pong', id: message.id });
        break;
      case 'add-stream':
      case 'remove-stream':
      case 'list-streams':
        handleControlMessage(this.streamController, message, reply, this.options.metrics);
        break;
    }
  }

  private heartbeat(): void {
    for (const c of this.channels.values()) {
      if (!c.alive) {
        this.logger.info({ client: c.id }, 'client missed a heartbeat: terminating');
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }
}

function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

function encode(message: ServerMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

export { ALL_STREAMS };
