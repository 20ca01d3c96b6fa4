import { readFileSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  connect,
  type NatsConnection,
  type NodeConnectionOptions,
  nkeyAuthenticator,
} from '@nats-io/transport-node';
import { ClusterError } from '../errors.js';

/** How to reach NATS: servers, auth (token, user/password or an nkey seed file) and TLS files, passed through. */
export interface NatsOptions {
  /** One URL or several, comma-separated (nats://host:4222, tls://host:4222). */
  url: string;
  token?: string;
  user?: string;
  pass?: string;
  /** A file holding an nkey seed (SU…). */
  nkeySeedFile?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** A name the server shows for this connection (monitoring). */
  name?: string;
  /** Give up connecting after this long (default 5 s). */
  timeoutMs?: number;
}

/** Connects, or fails with one line naming the server and the reason (never a stack). */
export async function connectNats(o: NatsOptions): Promise<NatsConnection> {
  const servers = o.url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (servers.length === 0)
    throw new ClusterError('--nats: expected a server URL such as nats://127.0.0.1:4222', {
      input: '--nats',
    });
  const opts: NodeConnectionOptions = {
    servers,
    name: o.name,
    timeout: o.timeoutMs ?? 5000,
    // Workers outlive server restarts: keep trying, the streams are on disk.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  };
  if (o.token) opts.token = o.token;
  if (o.user) {
    opts.user = o.user;
    opts.pass = o.pass;
  }
  if (o.nkeySeedFile) {
    let seed: Uint8Array;
    try {
      seed = new TextEncoder().encode(readFileSync(o.nkeySeedFile, 'utf8').trim());
    } catch (e) {
      throw new ClusterError(`--nats-nkey: cannot read ${o.nkeySeedFile}: ${(e as Error).message}`, {
        input: o.nkeySeedFile,
      });
    }
    opts.authenticator = nkeyAuthenticator(seed);
  }
  if (o.tlsCa || o.tlsCert || o.tlsKey)
    opts.tls = { caFile: o.tlsCa, certFile: o.tlsCert, keyFile: o.tlsKey };
  let nc: NatsConnection;
  try {
    nc = await connect(opts);
  } catch (e) {
    throw new ClusterError(`--nats ${redact(o.url)}: cannot connect: ${(e as Error).message}`, {
      input: '--nats',
      cause: e,
    });
  }
  // Every use of the cluster is JetStream: a server started without -js is one line, not a stack later.
  try {
    await jetstreamManager(nc);
  } catch (e) {
    await closeNats(nc, 1000);
    const off = (e as Error).name === 'JetStreamNotEnabled';
    throw new ClusterError(
      `--nats ${redact(o.url)}: ${off ? 'JetStream is not enabled on this server (start nats-server with -js)' : `JetStream does not answer: ${(e as Error).message}`}`,
      { input: '--nats', cause: e },
    );
  }
  return nc;
}

/** user:password@ in a URL is not for logs. */
export const redact = (url: string) => url.replace(/\/\/[^@/]*@/g, '//***@');

/** Drains (pending publishes flushed), but never waits longer than `ms` for a server that is gone. */
export async function closeNats(nc: NatsConnection, ms = 3000): Promise<void> {
  await atMost(
    nc.drain().catch(() => undefined),
    ms,
  );
  if (!nc.isClosed()) await nc.close().catch(() => undefined);
}

/**
 * How long a stopping worker waits for its goodbyes (leases handed back, its record removed). They
 * only tell the cluster sooner what the TTLs tell it anyway; a server that does not answer (gone,
 * restarting) held each one for the 5 s request timeout, one after the other.
 */
export const GOODBYE_MS = 1000;

/** `work`'s value, or undefined after `ms` (its own timer, cleared when `work` settles first). */
export async function atMost<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
