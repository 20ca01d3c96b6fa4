import type { ClientChannel } from './client.js';
import type { EventHistory } from './eventHistory.js';
import type { ServerMetrics } from './metrics.js';
import type { ServerMessage } from './protocol.js';

export interface SubscriptionRules {
  /** Subscriptions one client may hold in all ('*' counts as one). */
  max: number;
  history: EventHistory;
  metrics: ServerMetrics;
}

/**
 * A client's `subscribe`: refused whole past the per-client total (many small messages add up too),
 * else applied, answered with the change, and followed by the kept events of the streams it adds that
 * the client has not had (`joined`: the event count when it connected).
 */
export function subscribe(
  channel: ClientChannel,
  ids: readonly string[],
  joined: number,
  rules: SubscriptionRules,
  reply: (m: ServerMessage) => void,
  fail: (message: string, status: number) => void,
): void {
  const after = channel.subscriptionCount + channel.countNew(ids);
  if (after > rules.max) {
    rules.metrics.refused.inc({ reason: 'subscriptions' });
    fail(
      `subscribe: ${after} subscriptions would exceed this server's limit of ${rules.max} per client: subscribe to "*" for every stream`,
      429,
    );
    return;
  }
  const had = (e: { seq: number; streamId?: string }) =>
    e.streamId === undefined ? e.seq >= joined || channel.hasSubscriptions : channel.wants(e.streamId);
  const unseen = rules.history.unseen(had);
  const added = channel.subscribe(ids);
  reply(subscribed(channel, { added }));
  for (const e of unseen)
    if (e.streamId === undefined || channel.wants(e.streamId)) channel.send(e.data, 'event');
}

export function unsubscribe(
  channel: ClientChannel,
  ids: readonly string[],
  reply: (m: ServerMessage) => void,
): void {
  reply(subscribed(channel, { removed: channel.unsubscribe(ids) }));
}

/** A `subscribed` reply: what changed and the count, never the whole list (it can be long). */
function subscribed(channel: ClientChannel, change: { added?: string[]; removed?: string[] }): ServerMessage {
  return { type: 'subscribed', ...change, count: channel.subscriptionCount, all: channel.all };
}
