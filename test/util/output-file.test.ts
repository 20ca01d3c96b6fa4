import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { checkWritable, writeOutputFile } from '../../src/util/output-file.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-out-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('output files', () => {
  it('a new file, also in folders still to be made, or an existing file: writable, nothing created', () => {
    checkWritable(path.join(tmp, 'new.json'), 'x');
    checkWritable(path.join(tmp, 'a', 'b', 'new.json'), 'x');
    const existing = path.join(tmp, 'existing.json');
    writeFileSync(existing, 'old');
    checkWritable(existing, 'x');
    expect(readFileSync(existing, 'utf8')).toBe('old');
    expect(() => readFileSync(path.join(tmp, 'new.json'))).toThrow();
    expect(() => readFileSync(path.join(tmp, 'a'))).toThrow();
  });

  it('a path through a file, or a folder: InputError naming the file and why', () => {
    const file = path.join(tmp, 'plain');
    writeFileSync(file, 'x');
    const under = path.join(file, 'deeper', 'out.json');
    expect(() => checkWritable(under, 'the scales')).toThrow(InputError);
    expect(() => checkWritable(under, 'the scales')).toThrow(
      `cannot write the scales to ${under}: ${file} is not a folder`,
    );
    const folder = path.join(tmp, 'folder');
    mkdirSync(folder);
    expect(() => checkWritable(folder, 'the cache')).toThrow(
      `cannot write the cache to ${folder}: it is a folder`,
    );
    expect(() => writeOutputFile(folder, 'the cache', '{}')).toThrow(`cannot write the cache to ${folder}:`);
    const ok = path.join(tmp, 'ok.json');
    writeOutputFile(ok, 'the cache', '{}\n');
    expect(readFileSync(ok, 'utf8')).toBe('{}\n');
  });

  it('a folder or file marked read-only is refused, even for root (whom access() lets write)', () => {
    const folder = path.join(tmp, 'read-only');
    mkdirSync(folder);
    const file = path.join(tmp, 'read-only-file.json');
    writeFileSync(file, 'old');
    chmodSync(folder, 0o555);
    chmodSync(file, 0o444);
    try {
      const inside = path.join(folder, 'scales.json');
      expect(() => checkWritable(inside, 'the scales')).toThrow(
        `cannot write the scales to ${inside}: ${folder} is read-only`,
      );
      expect(() => checkWritable(file, 'x')).toThrow(`cannot write x to ${file}: it is read-only`);
    } finally {
      chmodSync(folder, 0o755);
    }
  });

  it('writeOutputFile makes the folders that checkWritable accepted as still to be made', () => {
    const deep = path.join(tmp, 'c', 'd', 'scales.json');
    checkWritable(deep, 'the scales');
    writeOutputFile(deep, 'the scales', '{}\n');
    expect(readFileSync(deep, 'utf8')).toBe('{}\n');
  });
});
