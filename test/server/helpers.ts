import { type ClientOptions, WebSocket } from 'ws';
import type { Prediction } from '../../src/predictions.js';

// biome-ignore lint/suspicious/noExplicitAny: test messages are inspected loosely
export type Msg = Record<string, any>;

/** A WebSocket client that records every message and lets a test await the ones it expects. */
export class TestClient {
  readonly messages: Msg[] = [];
  readonly ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<{ pred: (m: Msg) => boolean; resolve: (m: Msg) => void }> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as Msg;
      this.messages.push(msg);
      this.waiters = this.waiters.filter((w) => {
        if (w.pred(msg)) {
          w.resolve(msg);
          return false;
        }
        return true;
      });
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('error', () => {});
  }

  static async connect(url: string, options?: ClientOptions): Promise<TestClient> {
    const ws = new WebSocket(url, options);
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    await client.waitFor((m) => m.type === 'hello');
    return client;
  }

  /** The first message (already received or still to come) matching `pred`. */
  waitFor(pred: (m: Msg) => boolean): Promise<Msg> {
    const found = this.messages.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  /** The next message from now on matching `pred`. */
  next(pred: (m: Msg) => boolean): Promise<Msg> {
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  async subscribe(streams: string[]): Promise<Msg> {
    const reply = this.next((m) => m.type === 'subscribed');
    this.send({ type: 'subscribe', streams });
    return reply;
  }

  async unsubscribe(streams: string[]): Promise<Msg> {
    const reply = this.next((m) => m.type === 'subscribed');
    this.send({ type: 'unsubscribe', streams });
    return reply;
  }

  ofType(type: string): Msg[] {
    return this.messages.filter((m) => m.type === type);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    await this.closed;
  }
}

/** The HTTP status a failed upgrade got, or 101 if it opened. */
export function upgradeStatus(url: string, options?: ClientOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', (err) => reject(err));
  });
}

export function prediction(streamId: string, frame: number, label = `class-${frame}`): Prediction {
  return {
    streamId,
    frame,
    ptsMs: frame * 40,
    receivedAtMs: 1_700_000_000_000 + frame * 40,
    latencyMs: 12 + (frame % 7),
    top: [
      { index: frame % 1000, label, score: 0.7 },
      { index: (frame + 1) % 1000, label: `${label}-b`, score: 0.2 },
      { index: (frame + 2) % 1000, label: `${label}-c`, score: 0.1 },
    ],
  };
}

/** Yields to the event loop so sockets can move data. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
