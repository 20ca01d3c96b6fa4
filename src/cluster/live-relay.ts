import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import type { Prediction } from '../predictions.js';
import type { VitstreamServer } from '../server/server.js';
import type { Logger } from '../util/logger.js';
import { decode, StoredPrediction } from './messages.js';

const LivePrediction = StoredPrediction.extend({ worker: z.string().max(128), gpu: z.string().max(128) });

export interface LiveRelay {
  /** Messages refused (wrong subject token, not a prediction). */
  rejected(): number;
  stop(): void;
}

/**
 * Feeds a server's hub from the cluster's live subjects (vitstream.live.<feed>), so that one serve
 * shows every feed of the cluster with the WebSocket protocol unchanged. When a feed's worker changes
 * (first seen, or taken over), clients get an 'owner' event naming the worker and GPU.
 */
export function relayLiveToHub(
  nc: NatsConnection,
  server: Pick<VitstreamServer, 'hub' | 'stats'>,
  log: Logger,
): LiveRelay {
  const sub = nc.subscribe('vitstream.live.>');
  const owners = new Map<string, string>();
  let rejected = 0;
  void (async () => {
    for await (const m of sub) {
      const token = m.subject.split('.')[2] ?? '';
      let p: z.infer<typeof LivePrediction>;
      try {
        p = decode(LivePrediction, m.data, m.subject);
        // The subject names the feed: a message claiming another stream id is refused.
        if (p.streamId !== token || m.subject.split('.').length !== 3)
          throw new Error('stream id and subject differ');
      } catch (e) {
        if (rejected++ === 0)
          log.warn({ subject: m.subject, err: (e as Error).message }, 'live message refused');
        continue;
      }
      const { worker, gpu, ...prediction } = p;
      const owner = `${worker} (gpu ${gpu})`;
      if (owners.get(token) !== owner) {
        const moved = owners.has(token);
        owners.set(token, owner);
        server.stats.setState(token, 'live');
        server.hub.publishEvent({
          kind: 'owner',
          streamId: token,
          level: moved ? 'warn' : 'info',
          message: `${moved ? 'moved to' : 'running on'} worker ${owner}`,
          worker,
          gpu,
        });
      }
      server.stats.frameIn(token);
      server.hub.publish(prediction as Prediction);
    }
  })();
  return { rejected: () => rejected, stop: () => sub.unsubscribe() };
}
