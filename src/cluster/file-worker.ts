import { setTimeout as sleep } from 'node:timers/promises';
import { type Consumer, type JetStreamClient, type JsMsg, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { from, lastValueFrom, mergeMap, Subject, takeUntil, tap } from 'rxjs';
import { fileBatch } from '../../pipelines/fileBatch.js';
import type { Engine } from '../engine/types.js';
import { ClusterError } from '../errors.js';
import { engineBeginBatch } from '../operators/batchFrames.js';
import { classify } from '../operators/classify.js';
import type { Logger } from '../util/logger.js';
import { type DeadLetter, decode, encode, type FileDone, WorkItem } from './messages.js';
import type { WorkerMetrics } from './metrics.js';
import { deadSubject, doneSubject, frameMsgId, predSubject, STREAMS } from './subjects.js';

export interface FileWorkerOptions {
  nc: NatsConnection;
  engine: Engine;
  workerId: string;
  /** The durable consumer (ensureWorkConsumer). */
  consumer: string;
  /** Files classified at once (default 1); their batches share the engine. */
  capacity?: number;
  /** The consumer's ack wait: in-progress acks are sent at a third of it. */
  ackWaitMs: number;
  /** Deliveries before a file is given up and dead-lettered (default 3). */
  maxDeliver?: number;
  /** Delay before a failed file is offered again (default 1 s). */
  retryDelayMs?: number;
  logger: Logger;
  metrics?: WorkerMetrics;
  /** Told when a file starts or ends (heartbeat's busy list). */
  onBusy?: (busy: WorkItem[]) => void;
}

export interface FileWorker {
  /** Resolves when the loop has stopped (after stop()). */
  done: Promise<void>;
  /** Stops pulling; files in progress are handed back (nak) for another worker. */
  stop(): Promise<void>;
}

/**
 * The pull loop: take a file, classify it, store each prediction with a per-frame message id, store
 * the file's end marker, and only then ack. A worker that dies leaves the message unacked, so the
 * server redelivers it after the ack wait; the stored frames of the first attempt are dropped as
 * duplicates when the second attempt publishes them again.
 */
export function startFileWorker(o: FileWorkerOptions): FileWorker {
  const js = jetstream(o.nc);
  const capacity = o.capacity ?? 1;
  const maxDeliver = o.maxDeliver ?? 3;
  const stop$ = new Subject<void>();
  // Ends a pending pull and the pause after a failed one: stop() waits for neither.
  const halt = new AbortController();
  const busy = new Map<string, WorkItem>();
  const active = new Set<Promise<void>>();
  let stopping = false;
  const log = o.logger;

  const loop = async () => {
    const consumer: Consumer = await js.consumers.get(STREAMS.work, o.consumer);
    while (!stopping) {
      if (active.size >= capacity) {
        await Promise.race(active);
        continue;
      }
      let m: JsMsg | null = null;
      try {
        m = await pullOne(consumer);
      } catch (e) {
        if (stopping) break;
        log.warn({ err: (e as Error).message }, 'pulling work failed; retrying');
        await sleep(1000, undefined, { signal: halt.signal }).catch(() => undefined);
      }
      if (!m) continue;
      if (stopping) {
        settle(() => m.nak());
        break;
      }
      const p = handle(js, m)
        // A failure to report a failure (the server gone mid-way): the message is redelivered after the ack wait.
        .catch((e: Error) => log.error({ err: e.message }, 'file left unacked'))
        .finally(() => active.delete(p));
      active.add(p);
    }
    await Promise.allSettled(active);
  };

  /**
   * One message, or null when the pull expires or stop() ends it. stop() ends it at once: waiting
   * for the expiry held every idle worker's Ctrl-C up to 2 s. A message already delivered to the
   * pull still comes out (and is handed back by the loop); the server does not deliver to a pull
   * whose inbox is gone.
   */
  const pullOne = async (consumer: Consumer): Promise<JsMsg | null> => {
    const messages = await consumer.fetch({ max_messages: 1, expires: 2000 });
    const end = () => messages.stop();
    if (halt.signal.aborted) end();
    else halt.signal.addEventListener('abort', end, { once: true });
    try {
      for await (const m of messages) return m;
      return null;
    } finally {
      halt.signal.removeEventListener('abort', end);
    }
  };

  const handle = async (js: JetStreamClient, m: JsMsg): Promise<void> => {
    let item: WorkItem;
    try {
      item = decode(WorkItem, m.data, m.subject);
    } catch (e) {
      // Not ours to retry: a malformed message would fail the same way everywhere.
      log.error({ err: (e as Error).message }, 'malformed work message dropped');
      settle(() => m.term((e as Error).message));
      return;
    }
    const deliveries = m.info.deliveryCount;
    if (deliveries > maxDeliver) {
      await giveUp(
        js,
        m,
        item,
        `delivered ${deliveries - 1} times without finishing (workers killed or ack wait exceeded)`,
      );
      return;
    }
    const id = `${item.job}/${item.key}`;
    busy.set(id, item);
    o.onBusy?.([...busy.values()]);
    o.metrics?.filesBusy.set(busy.size);
    // Long files outlast the ack wait: tell the server this one is still being worked on.
    const keepAlive = setInterval(
      () => settle(() => m.working()),
      Math.max(200, Math.floor(o.ackWaitMs / 3)),
    );
    try {
      log.info({ job: item.job, file: item.name, delivery: deliveries }, 'file started');
      const frames = await classifyFile(js, item);
      if (stopping) {
        settle(() => m.nak());
        return;
      }
      const done: FileDone = { job: item.job, key: item.key, name: item.name, frames, worker: o.workerId };
      await js.publish(doneSubject(item.job, item.key), encode(done), { msgID: `${id}/done` });
      await m.ackAck();
      o.metrics?.files.inc({ result: 'done' });
      log.info({ job: item.job, file: item.name, frames }, 'file done');
    } catch (e) {
      const reason = (e as Error).message.split('\n')[0] ?? String(e);
      if (stopping) settle(() => m.nak());
      else if (deliveries >= maxDeliver) await giveUp(js, m, item, reason);
      else {
        log.warn(
          { job: item.job, file: item.name, delivery: deliveries, err: reason },
          'file failed; will be retried',
        );
        settle(() => m.nak(o.retryDelayMs ?? 1000));
        o.metrics?.files.inc({ result: 'retried' });
      }
    } finally {
      clearInterval(keepAlive);
      busy.delete(id);
      o.onBusy?.([...busy.values()]);
      o.metrics?.filesBusy.set(busy.size);
      o.metrics?.filesBusy.set(busy.size);
    }
  };

  const classifyFile = async (js: JetStreamClient, item: WorkItem): Promise<number> => {
    let frames = 0;
    const predictions = fileBatch([{ id: item.name, path: item.path }], {
      size: o.engine.config.imageSize,
      resize: item.resize,
      sample: item.sample,
      maxBatch: o.engine.maxBatch,
      beginBatch: engineBeginBatch(o.engine),
    }).pipe(classify(o.engine, { topK: item.topK }), takeUntil(stop$));
    await lastValueFrom(
      predictions.pipe(
        // Publishes overlap (the stream orders them; results sorts by frame), each awaited for its ack.
        mergeMap(
          (p) =>
            from(
              js.publish(predSubject(item.job, item.key), encode(p), {
                msgID: frameMsgId(item.job, item.key, p.frame),
              }),
            ),
          64,
        ),
        tap(() => {
          frames++;
          o.metrics?.predictions.inc({ kind: 'file' });
        }),
      ),
      { defaultValue: undefined },
    );
    return frames;
  };

  const giveUp = async (js: JetStreamClient, m: JsMsg, item: WorkItem, reason: string) => {
    const deliveries = m.info.deliveryCount;
    const dead: DeadLetter = {
      job: item.job,
      key: item.key,
      name: item.name,
      path: item.path,
      reason,
      deliveries,
      worker: o.workerId,
      at: new Date().toISOString(),
    };
    log.error({ job: item.job, file: item.name, reason }, 'file given up (dead letter)');
    await js.publish(deadSubject(item.job), encode(dead), { msgID: `${item.job}/${item.key}/dead` });
    const done: FileDone = {
      job: item.job,
      key: item.key,
      name: item.name,
      frames: 0,
      worker: o.workerId,
      failed: reason,
    };
    await js.publish(doneSubject(item.job, item.key), encode(done), {
      msgID: `${item.job}/${item.key}/done`,
    });
    settle(() => m.term(reason));
    o.metrics?.files.inc({ result: 'dead' });
  };

  /** Acks and naks are fire-and-forget publishes: on a closed connection they throw, and redelivery covers it. */
  const settle = (f: () => void) => {
    try {
      f();
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'ack not sent');
    }
  };

  const done = loop().catch((e: Error) => {
    throw new ClusterError(`work queue: ${e.message}`, { input: o.consumer, cause: e });
  });
  return {
    done,
    async stop() {
      stopping = true;
      stop$.next();
      halt.abort();
      await done;
    },
  };
}
