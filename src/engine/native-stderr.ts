import {
  closeSync,
  constants,
  fstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Dawn clamps two Vulkan limits on every adapter it enumerates (native/Limits.cpp, NormalizeLimits)
 * and says so with dawn::WarningLog(), an fprintf to fd 2 that no create() flag, toggle or log level
 * turns off. The lines say nothing a user can act on.
 */
export const DAWN_LIMIT_WARNING =
  /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

/**
 * Runs `fn` (synchronous native code) with fd 2 pointed at a scratch file, then writes back every line
 * it wrote except those `drop` matches exactly. Node has no dup2, so fd 2 is closed and reopened (the
 * lowest free descriptor); that is only done where a reopened descriptor is the same thing: a terminal,
 * a pipe, or a file opened for appending (`2>>log`). Any other file is left alone (with `2>&1` it shares
 * its offset with stdout), and so is a socket (it cannot be reopened), an fd 0 or 1 that is closed, or
 * a stderr with writes still queued: then `fn` just runs.
 */
export function filterNativeStderr<T>(fn: () => T, drop: RegExp, pendingWrites = 0): T {
  const reopened = reopenableStderr(pendingWrites);
  if (reopened === undefined) return fn();
  const { fd: original, flags } = reopened;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vitstream-stderr-'));
  const scratch = openSync(path.join(dir, 'stderr'), 'w+');
  rmSync(dir, { recursive: true, force: true });
  let result: T;
  try {
    if (!pointStderrAt(scratch, constants.O_RDWR)) return fn();
    try {
      result = fn();
    } finally {
      pointStderrAt(original, flags);
    }
    const lines = readFileSync(`/proc/self/fd/${scratch}`, 'utf8').split('\n');
    const unfinished = lines.pop() ?? '';
    const kept = lines.filter((line) => !drop.test(line)).map((line) => `${line}\n`);
    const text = kept.join('') + unfinished;
    if (text.length > 0) writeSync(2, text);
  } finally {
    closeSync(scratch);
    closeSync(original);
  }
  return result;
}

/** A second descriptor on what fd 2 is, when fd 2 may be swapped safely (see filterNativeStderr). */
function reopenableStderr(pendingWrites: number): { fd: number; flags: number } | undefined {
  if (pendingWrites > 0 || process.platform !== 'linux') return undefined;
  try {
    fstatSync(0);
    fstatSync(1);
    const st = fstatSync(2);
    const appending = st.isFile() && (openFlags(2) & constants.O_APPEND) !== 0;
    if (!st.isCharacterDevice() && !st.isFIFO() && !appending) return undefined;
    const flags = constants.O_WRONLY | (appending ? constants.O_APPEND : 0);
    // A pipe whose reader is gone would block a plain open: probe without blocking first.
    if (st.isFIFO()) closeSync(openSync('/proc/self/fd/2', flags | constants.O_NONBLOCK));
    return { fd: openSync('/proc/self/fd/2', flags | constants.O_NOCTTY), flags };
  } catch {
    return undefined;
  }
}

/** The open flags of a descriptor (octal in /proc/self/fdinfo). */
function openFlags(fd: number): number {
  const m = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return m ? Number.parseInt(m[1]!, 8) : 0;
}

/**
 * Closes fd 2 and reopens `fd`'s file as fd 2 (a pipe write-only: a descriptor that also reads it
 * would keep it open after its reader left). False if another thread's open took fd 2 in between.
 */
function pointStderrAt(fd: number, flags: number): boolean {
  closeSync(2);
  const again = openSync(`/proc/self/fd/${fd}`, flags | constants.O_NOCTTY);
  if (again === 2) return true;
  closeSync(again);
  return false;
}
