import type { ServerMetrics } from './metrics.js';
import type { ClientMessage, ServerMessage } from './protocol.js';
import { type ControlResult, runControl, type StreamController } from './streams.js';

type ControlMessage = Extract<ClientMessage, { type: 'add-stream' | 'remove-stream' | 'list-streams' }>;

/** Stream control over WebSocket: the same controller, checks and statuses as HTTP /streams (streamsHttp.ts). */
export function handleControlMessage(
  controller: StreamController | undefined,
  message: ControlMessage,
  reply: (m: ServerMessage) => void,
  metrics: ServerMetrics,
): void {
  if (!controller) {
    reply({
      type: 'error',
      status: 503,
      message: `${message.type}: stream control is not available on this server`,
    });
    return;
  }
  const refuse = (r: Extract<ControlResult<unknown>, { ok: false }>) => {
    if (r.reason) metrics.refused.inc({ reason: r.reason });
    reply({ type: 'error', status: r.status, message: `${message.type}: ${r.message}` });
  };
  if (message.type === 'list-streams') {
    reply({ type: 'stream-list', streams: controller.list() });
    return;
  }
  if (message.type === 'remove-stream') {
    const id = message.id;
    void runControl(() => controller.remove(id)).then((r) =>
      r.ok ? reply({ type: 'stream-removed', id }) : refuse(r),
    );
    return;
  }
  const { type: _type, ...request } = message;
  void runControl(() => controller.add(request)).then((r) =>
    r.ok ? reply({ type: 'stream-added', stream: r.value }) : refuse(r),
  );
}
