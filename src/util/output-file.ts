import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  accessSync,
  closeSync,
  constants,
  createWriteStream,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  type WriteStream,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';

/**
 * Fails now, naming the file, if `file` could not be written later: it exists and is a folder or
 * not writable, or the nearest existing folder above it is a file or not writable. For commands
 * that work for minutes before they write (tune, calibrate), so that a wrong path costs nothing.
 * Creates nothing.
 */
export function checkWritable(file: string, what: string): void {
  try {
    const target = path.resolve(file);
    if (existsSync(target)) {
      const st = statSync(target);
      if (st.isDirectory()) throw new Error('it is a folder');
      if (readOnlyMode(st.mode)) throw new Error('it is read-only');
      accessSync(target, constants.W_OK);
      return;
    }
    let dir = path.dirname(target);
    while (!existsSync(dir)) dir = path.dirname(dir);
    const st = statSync(dir);
    if (!st.isDirectory()) throw new Error(`${dir} is not a folder`);
    if (readOnlyMode(st.mode)) throw new Error(`${dir} is read-only`);
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw cannotWrite(file, what, e);
  }
}

/**
 * No write bit for anyone: someone marked it read-only on purpose (a shared model folder). access()
 * lets root write there anyway, so the mode is what tells.
 */
const readOnlyMode = (mode: number) => (mode & 0o222) === 0;

/** writeFileSync whose failure (a full disk, a path checkWritable let through) names the file. */
export function writeOutputFile(file: string, what: string, text: string): void {
  try {
    // checkWritable accepted missing folders below a writable one: make them.
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    writeFileSync(file, text);
  } catch (e) {
    throw cannotWrite(file, what, e);
  }
}

/** The error of every output that could not be written: which file, what it was to hold, why. */
export function cannotWrite(file: string, what: string, cause: unknown): InputError {
  return new InputError(`cannot write ${what} to ${file}: ${(cause as Error).message}`, {
    input: file,
    cause,
  });
}

/**
 * An output that replaces `file` only when the caller says so: writes go to a temporary file in the
 * same folder (so the rename is atomic), and a run that fails before writing anything leaves the old
 * file as it was. Devices, FIFOs and other non-regular files (`/dev/null`, `/dev/stdout`) are written
 * directly: they cannot be replaced, and have nothing to lose.
 */
export interface ReplacingOutput {
  readonly stream: WriteStream;
  /**
   * Ends the stream and puts what was written in place of `file`. `wholeLines` first cuts the text
   * after its last newline (a write that failed halfway); `unlessAtMost` keeps the old file when no
   * more than that many bytes were written (0, or a CSV header alone).
   */
  commit(options?: { wholeLines?: boolean; unlessAtMost?: number }): Promise<'replaced' | 'kept'>;
  /** Ends the stream and removes the temporary file; `file` stays as it was. */
  discard(): Promise<void>;
}

export function openReplacingOutput(file: string, what: string): ReplacingOutput {
  let fd: number;
  let temp: string | undefined;
  let dest = path.resolve(file);
  try {
    const st = statSync(dest, { throwIfNoEntry: false });
    if (st?.isDirectory()) throw new Error('it is a folder');
    if (st && !st.isFile()) fd = openSync(dest, 'w');
    else {
      if (st) {
        accessSync(dest, constants.W_OK);
        // Through a symlink to its target, so that the link stays a link; with the old file's mode.
        dest = realpathSync(dest);
      }
      temp = path.join(
        path.dirname(dest),
        `.${path.basename(dest)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
      );
      fd = openSync(temp, 'wx', st ? st.mode & 0o777 : 0o666);
    }
  } catch (e) {
    // The temporary file's name means nothing to the user: its folder does.
    const err = e as NodeJS.ErrnoException;
    if (temp && err.message) err.message = err.message.replace(`'${temp}'`, `'${path.dirname(temp)}'`);
    throw cannotWrite(file, what, err);
  }
  const stream = createWriteStream('', { fd });
  const ended = async () => {
    if (!stream.destroyed && !stream.writableEnded) stream.end();
    if (!stream.closed) await once(stream, 'close').catch(() => undefined);
  };
  let settled = false;
  return {
    stream,
    async commit({ wholeLines = false, unlessAtMost = -1 } = {}) {
      await ended();
      if (settled || temp === undefined) return 'replaced';
      settled = true;
      try {
        const size = wholeLines ? cutAfterLastNewline(temp) : statSync(temp).size;
        if (size <= unlessAtMost) {
          rmSync(temp, { force: true });
          return 'kept';
        }
        renameSync(temp, dest);
        return 'replaced';
      } catch (e) {
        rmSync(temp, { force: true });
        throw cannotWrite(file, what, e);
      }
    },
    async discard() {
      await ended();
      if (settled || temp === undefined) return;
      settled = true;
      rmSync(temp, { force: true });
    },
  };
}

/** Truncates a file after its last '\n' (to 0 bytes when it has none); returns the new size. */
function cutAfterLastNewline(file: string): number {
  const fd = openSync(file, 'r+');
  try {
    const chunk = Buffer.alloc(64 << 10);
    let end = fstatSync(fd).size;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const n = readSync(fd, chunk, 0, end - start, start);
      const at = chunk.subarray(0, n).lastIndexOf(0x0a);
      if (at >= 0) {
        ftruncateSync(fd, start + at + 1);
        return start + at + 1;
      }
      end = start;
    }
    ftruncateSync(fd, 0);
    return 0;
  } finally {
    closeSync(fd);
  }
}
