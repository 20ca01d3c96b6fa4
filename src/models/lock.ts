import { open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from '../util/process-alive.js';

export interface LockOptions {
  signal?: AbortSignal;
  /** How often a waiter looks again. */
  pollMs?: number;
  /** A lock whose holder has not touched it for this long is taken over (holders touch it every staleMs/4). */
  staleMs?: number;
  /** Called once when the lock is found held by someone else. */
  onWait?: (holder: string) => void;
}

export interface HeldLock {
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  host: string;
}

function parseHolder(text: string): Holder | undefined {
  try {
    const v = JSON.parse(text) as Partial<Holder>;
    return typeof v.pid === 'number' && typeof v.host === 'string' ? { pid: v.pid, host: v.host } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether an existing lock can be taken over. On this host a dead pid settles it at once; on another
 * host (a cache on NFS) only a lock nobody has touched for staleMs is abandoned.
 */
async function isStale(lockPath: string, staleMs: number): Promise<boolean> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath)]);
  } catch {
    return true; // vanished between our attempts: just try again
  }
  const holder = parseHolder(text);
  if (holder && holder.host === os.hostname() && !processAlive(holder.pid)) return true;
  // An unparseable lock is one a holder is still writing, or garbage: age decides both.
  return Date.now() - mtimeMs > staleMs;
}

/**
 * An exclusive lock by `O_CREAT|O_EXCL` on a lock file, so that two processes never write the same
 * `.part` file. Waits (polling) while another live process holds it.
 */
export async function acquireLock(lockPath: string, options: LockOptions = {}): Promise<HeldLock> {
  const pollMs = options.pollMs ?? 250;
  const staleMs = options.staleMs ?? 60_000;
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const fh = await open(lockPath, 'wx');
      try {
        await fh.writeFile(
          JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() }),
        );
      } finally {
        await fh.close();
      }
      return heldLock(lockPath, staleMs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (await isStale(lockPath, staleMs)) {
      await unlink(lockPath).catch(() => {});
      continue;
    }
    if (!told) {
      told = true;
      options.onWait?.(await readFile(lockPath, 'utf8').catch(() => '?'));
    }
    await sleep(pollMs, undefined, { signal: options.signal });
  }
}

function heldLock(lockPath: string, staleMs: number): HeldLock {
  // Touch the lock while we hold it so that a waiter on another host can tell a slow download from a dead one.
  const heartbeat = setInterval(
    () => {
      const now = new Date();
      utimes(lockPath, now, now).catch(() => {});
    },
    Math.max(50, staleMs / 4),
  );
  heartbeat.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      await unlink(lockPath).catch(() => {});
    },
  };
}
