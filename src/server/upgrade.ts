import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../util/logger.js';
import { type AccessRules, checkAccess } from './auth.js';
import type { ServerMetrics } from './metrics.js';

/** Answers a refused upgrade with a plain HTTP response and closes the socket once it is written (as ws does). */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(message)}`,
  ];
  if (status === 401) headers.push('WWW-Authenticate: Bearer');
  socket.once('finish', () => socket.destroy());
  socket.end(`${headers.join('\r\n')}\r\n\r\n${message}`);
}

export interface UpgradeGate {
  path: string;
  rules: AccessRules & { boundHost?: string };
  metrics: ServerMetrics;
  logger: Logger;
  /** Why new clients are not taken now (shutting down, full), or undefined. */
  unavailable(): 'closing' | 'capacity' | undefined;
}

/**
 * Checks an upgrade request: path, server state, Host, Origin, token, capacity. Refuses it on the socket
 * (and counts why) and returns false, or returns true for the caller to accept it.
 */
export function admitUpgrade(req: IncomingMessage, socket: Duplex, gate: UpgradeGate): boolean {
  const { metrics } = gate;
  const busy = gate.unavailable();
  if (busy === 'closing') {
    refuseUpgrade(socket, 503, 'server is shutting down');
    return false;
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== gate.path) {
    metrics.wsRejected.inc({ reason: 'path' });
    refuseUpgrade(socket, 404, `WebSocket endpoint is ${gate.path}`);
    return false;
  }
  const access = checkAccess(req, url, gate.rules);
  if (!access.ok) {
    metrics.wsRejected.inc({ reason: access.reason });
    metrics.refused.inc({ reason: access.reason });
    gate.logger.info({ remote: req.socket.remoteAddress, reason: access.reason }, 'WebSocket refused');
    refuseUpgrade(socket, access.status, access.message);
    return false;
  }
  if (busy === 'capacity') {
    metrics.wsRejected.inc({ reason: 'capacity' });
    refuseUpgrade(socket, 503, 'too many clients');
    return false;
  }
  return true;
}
