import { readdirSync, readFileSync } from 'node:fs';

/**
 * Live (non-zombie) child processes of this process named `name`, read from /proc: the truth about
 * leftover ffmpegs, whoever spawned them. Undefined where /proc is missing (not Linux).
 */
export function childProcessCount(name: string, parentPid = process.pid): number | undefined {
  return childProcesses(name, parentPid)?.length;
}

/** Pids of the live (non-zombie) children of `parentPid` named `name`; undefined without /proc. */
export function childProcesses(name: string, parentPid = process.pid): number[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const pids: number[] = [];
  for (const e of entries) {
    if (e.charCodeAt(0) < 48 || e.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'latin1');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split at the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const [state, ppid] = stat.slice(close + 2).split(' ', 2);
    if (comm === name && Number(ppid) === parentPid && state !== 'Z' && state !== 'X') pids.push(Number(e));
  }
  return pids;
}

/** Handles and requests keeping the event loop alive (sockets, timers, child processes...). */
export function activeResourceCount(): number {
  return process.getActiveResourcesInfo().length;
}
