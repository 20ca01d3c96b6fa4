import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { ALL_STREAMS, type ServerMessageType } from './protocol.js';

export interface ClientLimits {
  /** Messages waiting in our own queue (after the socket's buffer is full) before the oldest is dropped. */
  maxQueue: number;
  /** Bytes waiting in our own queue before the oldest is dropped. */
  maxQueueBytes: number;
  /** Bytes the socket may hold unsent (ws.bufferedAmount) before we stop writing and start queueing. */
  maxBufferedBytes: number;
  /**
   * Writes handed to the socket and not yet flushed, before we start queueing. Each pending write
   * costs a few hundred bytes of bookkeeping beyond its data, so many small messages need this
   * bound as well as the byte one.
   */
  maxInFlight: number;
}

/** Counters shared by every client of a hub, read by the metrics collector at scrape time. */
export interface DeliveryTotals {
  sent: Partial<Record<ServerMessageType, number>>;
  dropped: number;
}

interface Queued {
  data: Buffer;
  type: ServerMessageType;
}

// Messages are UTF-8 encoded once per publish and the same Buffer goes to every client: ws frames
// a Buffer without copying it, where a string would be re-encoded per client.
const TEXT = { binary: false } as const;

export interface ClientSnapshot {
  id: number;
  subscriptions: string[];
  queued: number;
  queuedBytes: number;
  bufferedAmount: number;
  /** Messages dropped for this client over its life. */
  missedTotal: number;
}

/**
 * One connected WebSocket with its subscriptions and its own bounded outgoing queue.
 *
 * Writes go straight to the socket while its buffer is below `maxBufferedBytes`; past that they
 * wait here, and past our own limits the oldest waiting message is dropped and counted. The
 * count reaches the client as a `missed` notice ahead of the next message it does get, so a slow
 * reader learns it has gaps while the publisher never waits for it.
 */
export class ClientChannel {
  readonly id: number;
  alive = true;
  private readonly streams = new Set<string>();
  private readonly queue: Queued[] = [];
  private queueHead = 0;
  private queueBytes = 0;
  private pendingMissed = 0;
  private missedTotal = 0;
  private inFlight = 0;
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    socketOf(this.ws)?.uncork();
  };
  // One bound callback per client: ws calls it when a write reaches the kernel, which is our cue to pump.
  private readonly onWritten = (err?: Error): void => {
    this.inFlight--;
    if (!err) this.pump();
    if (this.drained && this.queued === 0 && this.inFlight === 0) this.drained();
  };
  private drained: (() => void) | undefined;

  constructor(
    id: number,
    readonly ws: WebSocket,
    private readonly limits: ClientLimits,
    private readonly totals: DeliveryTotals,
  ) {
    this.id = id;
  }

  get subscriptionKey(): string {
    return this.streams.has(ALL_STREAMS) ? ALL_STREAMS : [...this.streams].sort().join('\n');
  }

  subscriptions(): string[] {
    return [...this.streams].sort();
  }

  /** Subscribed to every stream ('*'). */
  get all(): boolean {
    return this.streams.has(ALL_STREAMS);
  }

  get subscriptionCount(): number {
    return this.streams.size;
  }

  /** How many of `ids` this client does not hold yet. */
  countNew(ids: readonly string[]): number {
    return new Set(ids.filter((id) => !this.streams.has(id))).size;
  }

  /** Adds the ids; returns those that were new, sorted. */
  subscribe(ids: readonly string[]): string[] {
    const added = new Set<string>();
    for (const id of ids) if (!this.streams.has(id)) added.add(id);
    for (const id of added) this.streams.add(id);
    return [...added].sort();
  }

  /** Drops the ids; returns those it held, sorted. */
  unsubscribe(ids: readonly string[]): string[] {
    const removed = new Set<string>();
    for (const id of ids) if (this.streams.delete(id)) removed.add(id);
    return [...removed].sort();
  }

  wants(streamId: string): boolean {
    return this.streams.has(ALL_STREAMS) || this.streams.has(streamId);
  }

  get hasSubscriptions(): boolean {
    return this.streams.size > 0;
  }

  /** Sends now, queues, or drops the oldest queued message; never blocks and never throws. */
  send(data: Buffer, type: ServerMessageType): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.queued === 0 && this.pendingMissed === 0 && this.writable()) {
      this.write(data, type);
      return;
    }
    this.queue.push({ data, type });
    this.queueBytes += data.length;
    while (
      this.queued > 0 &&
      (this.queued > this.limits.maxQueue || this.queueBytes > this.limits.maxQueueBytes)
    ) {
      this.dropOldest();
    }
    this.pump();
  }

  snapshot(): ClientSnapshot {
    return {
      id: this.id,
      subscriptions: this.subscriptions(),
      queued: this.queued,
      queuedBytes: this.queueBytes,
      bufferedAmount: this.ws.readyState === WebSocket.OPEN ? this.ws.bufferedAmount : 0,
      missedTotal: this.missedTotal,
    };
  }

  /**
   * Resolves once every message queued or in flight has been handed to the kernel (which delivers it
   * even after the socket closes), or after `timeoutMs` for a client that stopped reading: a graceful
   * close flushes what was published before it.
   */
  drain(timeoutMs: number): Promise<void> {
    if (this.ws.readyState !== WebSocket.OPEN || (this.queued === 0 && this.inFlight === 0))
      return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const onClose = () => done();
      this.ws.once('close', onClose);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.ws.off('close', onClose);
        self.drained = undefined;
        resolve();
      }
      this.drained = done;
    });
  }

  /** Forget queued messages (the socket is going away). */
  clear(): void {
    this.queue.length = 0;
    this.queueHead = 0;
    this.queueBytes = 0;
  }

  private get queued(): number {
    return this.queue.length - this.queueHead;
  }

  private dropOldest(): void {
    const dropped = this.queue[this.queueHead]!;
    this.queue[this.queueHead] = undefined as unknown as Queued;
    this.queueHead++;
    this.queueBytes -= dropped.data.length;
    this.pendingMissed++;
    this.missedTotal++;
    this.totals.dropped++;
    this.compact();
  }

  private writable(): boolean {
    return this.inFlight < this.limits.maxInFlight && this.ws.bufferedAmount < this.limits.maxBufferedBytes;
  }

  private pump(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    while (this.writable()) {
      if (this.pendingMissed > 0) {
        const count = this.pendingMissed;
        this.pendingMissed = 0;
        this.write(Buffer.from(JSON.stringify({ type: 'missed', count })), 'missed');
        continue;
      }
      if (this.queued === 0) break;
      const next = this.queue[this.queueHead]!;
      this.queue[this.queueHead] = undefined as unknown as Queued;
      this.queueHead++;
      this.queueBytes -= next.data.length;
      this.compact();
      this.write(next.data, next.type);
    }
  }

  private write(data: Buffer, type: ServerMessageType): void {
    // A pipeline publishes a whole batch of predictions in one go: holding the socket corked until
    // the current task ends turns those sends into one writev instead of a syscall each.
    if (!this.corked) {
      const socket = socketOf(this.ws);
      if (socket) {
        socket.cork();
        this.corked = true;
        process.nextTick(this.uncork);
      }
    }
    this.inFlight++;
    this.ws.send(data, TEXT, this.onWritten);
    this.totals.sent[type] = (this.totals.sent[type] ?? 0) + 1;
  }

  // A head index instead of Array.shift keeps dropping O(1); the array is compacted once half is dead.
  private compact(): void {
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }
}

/** The TCP socket under a ws WebSocket (a long-standing internal of ws 8), if it is still there. */
function socketOf(ws: WebSocket): Socket | undefined {
  const socket = (ws as unknown as { _socket?: Socket | null })._socket;
  return socket && typeof socket.cork === 'function' ? socket : undefined;
}
