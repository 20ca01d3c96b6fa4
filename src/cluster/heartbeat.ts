import type { KV } from '@nats-io/kv';
import type { Logger } from '../util/logger.js';
import { atMost, GOODBYE_MS } from './connect.js';
import { encode, type WorkerRecord } from './messages.js';

export interface Heartbeat {
  /** Publishes now (after a change worth telling: a file started, a feed taken). */
  beat(): Promise<void>;
  /**
   * Stops beating and removes the record: the worker leaves at once rather than by expiry. Waits
   * `goodbyeMs` at most for the server: the record expires anyway.
   */
  stop(): Promise<void>;
}

/**
 * A worker's record in the workers bucket, rewritten every `intervalMs`. The bucket's TTL (a few
 * intervals) removes the record of a worker that died without saying so.
 */
export function startHeartbeat(
  kv: KV,
  record: () => WorkerRecord,
  intervalMs: number,
  log: Logger,
  goodbyeMs = GOODBYE_MS,
): Heartbeat {
  let stopped = false;
  const beat = async () => {
    if (stopped) return;
    const r = record();
    await kv.put(r.id, encode({ ...r, at: new Date().toISOString() })).catch((e: Error) => {
      log.warn({ err: e.message }, 'heartbeat not stored');
    });
  };
  const timer = setInterval(() => void beat(), intervalMs);
  void beat();
  return {
    beat,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await atMost(
        kv.delete(record().id).catch(() => undefined),
        goodbyeMs,
      );
    },
  };
}
