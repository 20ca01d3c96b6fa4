import { accessSync, constants, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
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
      if (statSync(target).isDirectory()) throw new Error('it is a folder');
      accessSync(target, constants.W_OK);
      return;
    }
    let dir = path.dirname(target);
    while (!existsSync(dir)) dir = path.dirname(dir);
    if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`);
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw cannotWrite(file, what, e);
  }
}

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
