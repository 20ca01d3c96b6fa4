import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

/** Spawns ffmpeg with stdout/stderr piped; stdin is piped only when a stream (or our own stdin) feeds it. */
export function spawnFfmpeg(bin: string, args: string[], stdin?: Readable): ChildProcess {
  const child = spawn(bin, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], windowsHide: true });
  if (stdin && child.stdin) {
    // ffmpeg closing its stdin early (error, unsubscribe) is normal: swallow EPIPE instead of crashing.
    child.stdin.on('error', () => {});
    stdin.pipe(child.stdin);
    child.once('close', () => stdin.unpipe(child.stdin ?? undefined));
  }
  return child;
}

/**
 * Stops ffmpeg: closes our ends of its pipes (a blocked write then fails with EPIPE), asks it to quit
 * with SIGTERM, and SIGKILLs it if it is still there after `graceMs`.
 */
export function killFfmpeg(child: ChildProcess, graceMs: number): void {
  child.stdout?.destroy();
  child.stderr?.destroy();
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, graceMs);
  child.once('exit', () => clearTimeout(timer));
}
