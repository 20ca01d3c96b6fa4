import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface SpawnFfmpegOptions {
  /**
   * Start ffmpeg in a process group of its own (setsid), so that stopping it reaches anything it
   * started too (e.g. a protocol helper) and a terminal's Ctrl-C does not kill it behind our back.
   */
  processGroup?: boolean;
}

/** Spawns ffmpeg with stdout/stderr piped; stdin is piped only when a stream (or our own stdin) feeds it. */
export function spawnFfmpeg(
  bin: string,
  args: string[],
  stdin?: Readable,
  options: SpawnFfmpegOptions = {},
): ChildProcess {
  const child = spawn(bin, args, {
    stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    windowsHide: true,
    detached: options.processGroup === true && process.platform !== 'win32',
  });
  if (stdin && child.stdin) {
    // ffmpeg closing its stdin early (error, unsubscribe) is normal: swallow EPIPE instead of crashing.
    child.stdin.on('error', () => {});
    stdin.pipe(child.stdin);
    child.once('close', () => stdin.unpipe(child.stdin ?? undefined));
  }
  return child;
}

/**
 * Sends `signal` to the process group led by `pid` (a child spawned with processGroup), falling
 * back to the process alone. Returns false if nothing was there to signal.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  if (process.platform !== 'win32') {
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      // not a group leader (spawned without processGroup) or already gone: try the process itself
    }
  }
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops ffmpeg: closes our ends of its pipes (a blocked write then fails with EPIPE), asks it to quit
 * with SIGTERM, and SIGKILLs it (its whole group when it has one) if it is still there after
 * `graceMs` (0: SIGKILL at once).
 */
export function killFfmpeg(child: ChildProcess, graceMs: number): void {
  child.stdout?.destroy();
  child.stderr?.destroy();
  if (child.exitCode !== null || child.signalCode !== null) return;
  const pid = child.pid;
  const hard = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (pid !== undefined) signalGroup(pid, 'SIGKILL');
    else child.kill('SIGKILL');
  };
  if (graceMs <= 0) {
    hard();
    return;
  }
  if (pid !== undefined) signalGroup(pid, 'SIGTERM');
  else child.kill('SIGTERM');
  const timer = setTimeout(hard, graceMs);
  child.once('exit', () => clearTimeout(timer));
}
