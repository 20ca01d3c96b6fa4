import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';

export interface SpawnFfmpegOptions {
  /**
   * Start ffmpeg in a process group of its own (setsid), so that stopping it reaches anything it
   * started too (e.g. a protocol helper) and a terminal's Ctrl-C does not kill it behind our back.
   */
  processGroup?: boolean;
  /** SIGKILL ffmpeg when this process dies, even by SIGKILL (default true; see deathGuard). */
  dieWithParent?: boolean;
}

// Memoised per PATH: finding and checking setpriv runs a process, once per process is enough.
const guards = new Map<string, string[]>();

/**
 * The command prefix that makes a child die with this process: util-linux's
 * `setpriv --pdeathsig KILL --` sets PR_SET_PDEATHSIG and then execs ffmpeg in place (same pid, no
 * fork in between, so the setting holds for ffmpeg itself; setsid happens before, in Node's fork,
 * and does not clear it). The signal comes when the *thread* that spawned it exits: the main
 * thread here, or a worker_thread that decodes. A parent killed in the instant between fork and
 * prctl still leaves ffmpeg behind.
 *
 * [] where setpriv is missing or too old for --pdeathsig (util-linux < 2.33, or not Linux). The
 * fallback is then ffmpeg's own: its next write to our closed stdout or stderr pipe fails (EPIPE)
 * and it exits, which is at once for a source that delivers frames; a silent network feed lingers
 * until its read timeout (`timeoutMs`, ffmpeg's -rw_timeout).
 */
export function deathGuard(pathEnv: string | undefined = process.env.PATH): string[] {
  if (process.platform !== 'linux') return [];
  const key = pathEnv ?? '';
  let guard = guards.get(key);
  if (!guard) {
    guard = findSetpriv(key);
    guards.set(key, guard);
  }
  return guard;
}

/** `bin` as a path, or found on the PATH, and executable; undefined otherwise. */
function onPath(bin: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  const candidates = bin.includes('/')
    ? [bin]
    : pathEnv
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, bin));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function findSetpriv(pathEnv: string): string[] {
  const bin = onPath('setpriv', pathEnv);
  if (bin) {
    const help = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 5000 });
    if (help.status === 0 && help.stdout.includes('--pdeathsig')) return [bin, '--pdeathsig', 'KILL', '--'];
  }
  return [];
}

/**
 * `bin args` behind deathGuard's prefix, as one argv. An ffmpeg that cannot run stays bare, so
 * that Node reports it ('error', ENOENT) rather than setpriv's exit code and message, which would
 * read like a missing source.
 */
export function guarded(bin: string, args: string[]): string[] {
  return [...(onPath(bin) ? deathGuard() : []), bin, ...args];
}

/**
 * Spawns ffmpeg with stdout/stderr piped; stdin is piped only when a stream (or our own stdin)
 * feeds it. ffmpeg dies with this process where setpriv is available (see deathGuard).
 */
export function spawnFfmpeg(
  bin: string,
  args: string[],
  stdin?: Readable,
  options: SpawnFfmpegOptions = {},
): ChildProcess {
  const [file, ...argv] = options.dieWithParent === false ? [bin, ...args] : guarded(bin, args);
  const child = spawn(file, argv, {
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
