import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/util/npy.js';
import { type CliResult, cifarModel, ensureBuilt, runCli } from '../helpers/cli.js';

// Issue #20 item 6: inputs that crashed or hung the CLI. Each ends in one line on stderr, exit 2.

const model = cifarModel();
const STACK = /^\s+at /m;
let tmp: string;
let rgb: string;

beforeAll(() => {
  ensureBuilt();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-e2e-hostile-'));
  const a = readNpy(model.file('rgb.npy'));
  rgb = path.join(tmp, 'rgb.npy');
  writeNpy(rgb, (a.data as Uint8Array).subarray(0, 32 * 32 * 3), [1, 32, 32, 3]);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** One line naming the problem, exit 2, no stack trace. */
function expectOneLine(r: CliResult, message: RegExp): void {
  expect(r.stderr).not.toMatch(STACK);
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^vitstream: /);
  expect(lines[0]).toMatch(message);
}

/** A .npy v1 file with the header text given as is, then `data`. */
function rawNpy(file: string, header: string, data: Uint8Array): string {
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(header.length, 8);
  writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), data]));
  return file;
}

const infer = (...args: string[]) => runCli(['infer', ...args], { timeoutMs: 120_000 });

describe('hostile inputs to the CLI', () => {
  it('a safetensors header of 100k nested arrays: a one-line format error, not a stack overflow', async () => {
    const header = Buffer.from(`{"t":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const file = path.join(tmp, 'nested.safetensors');
    writeFileSync(file, Buffer.concat([len, header]));
    const r = await infer('--input', rgb, '--model', model.dir, '--weights', file);
    expectOneLine(r, /nested\.safetensors: tensor 't': malformed header entry a deeply nested array/);
  });

  it('config.json with num_layers 1000000: refused at once with the bound', async () => {
    const dir = path.join(tmp, 'huge-model');
    mkdirSync(dir);
    const config = JSON.parse(readFileSync(model.file('config.json'), 'utf8'));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, num_layers: 1_000_000 }));
    const r = await infer('--input', rgb, '--model', dir, '--weights', model.file('model.safetensors'));
    expectOneLine(r, /config\.json: invalid model config: num_layers: at most 64/);
  });

  it('.npy with shape (-1, 32, 32, 3): malformed shape', async () => {
    const file = rawNpy(
      path.join(tmp, 'negative.npy'),
      "{'descr': '|u1', 'fortran_order': False, 'shape': (-1, 32, 32, 3), }\n",
      new Uint8Array(3072),
    );
    expectOneLine(
      await infer('--input', file, ...model.args),
      /negative\.npy: malformed shape \(-1, 32, 32, 3\)/,
    );
  });

  it('.npy with shape (0, 32, 32, 3): no images', async () => {
    const file = rawNpy(
      path.join(tmp, 'empty.npy'),
      "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 32, 32, 3), }\n",
      new Uint8Array(0),
    );
    expectOneLine(await infer('--input', file, ...model.args), /empty\.npy: no images/);
  });

  it('a float32 .npy whose data starts at a byte offset that is not a multiple of 4 is read (copied)', async () => {
    const pixels = readNpy(model.file('pixel_values.npy'));
    const one = new Uint8Array((pixels.data as Float32Array).slice(0, 3 * 32 * 32).buffer);
    // 10 + 60 bytes of header: the data starts at byte 70.
    const header = `${"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 32, 32), }".padEnd(59, ' ')}\n`;
    expect((10 + header.length) % 4).not.toBe(0);
    const file = rawNpy(path.join(tmp, 'misaligned.npy'), header, one);
    const r = await infer('--input', file, ...model.args, '--precision', 'fp32', '--json');
    expect(r.stderr).not.toMatch(/RangeError|STACK/);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)[0].top).toHaveLength(5);
  });

  it('--weights /dev/zero: not a regular file', async () => {
    const r = await infer('--input', rgb, '--model', model.dir, '--weights', '/dev/zero');
    expectOneLine(r, /weights '\/dev\/zero' is not a regular file/);
  });

  it('scales.json with a scale of 1e308: refused with the range', async () => {
    const file = path.join(tmp, 'scales.json');
    const range = { scale: 0.05, threshold: 6.35, absMax: 7 };
    const block = { qkv: range, proj: range, fc1: range, fc2: { ...range, scale: 1e308 } };
    writeFileSync(
      file,
      JSON.stringify({
        format: 'vitstream-int8-scales',
        version: 1,
        model: 'm',
        method: 'max',
        images: 1,
        blocks: [block, block, block, block],
      }),
    );
    const r = await infer('--input', rgb, ...model.args, '--precision', 'int8', '--scales', file);
    expectOneLine(r, /scales\.json: block 0 fc2: scale 1e\+308 is out of range/);
  });

  it('--out on a full device (/dev/full): one line naming it, after the run', async () => {
    // The CPU backend: the GPU stack prints warnings of its own on stderr.
    const r = await infer('--input', rgb, ...model.args, '--backend', 'cpu', '--out', '/dev/full');
    expectOneLine(r, /cannot write the array to \/dev\/full: ENOSPC/);
  });

  it('--out under a file: refused before the model loads (the weights are missing too)', async () => {
    const out = path.join(rgb, 'logits.npy');
    const r = await infer(
      '--input',
      rgb,
      '--model',
      model.dir,
      '--weights',
      path.join(tmp, 'none.safetensors'),
      '--out',
      out,
    );
    expectOneLine(r, /cannot write logits to .*rgb\.npy\/logits\.npy: .*rgb\.npy is not a folder/);
  });

  describe('--cache-dir (the default model is downloaded into it: the folder is checked first, offline)', () => {
    it.each([
      [
        'under a file',
        () => {
          writeFileSync(path.join(tmp, 'plain-file'), 'x');
          return path.join(tmp, 'plain-file', 'cache');
        },
        /plain-file is a file, not a folder/,
      ],
      [
        'through a dangling symlink',
        () => {
          symlinkSync(path.join(tmp, 'nowhere'), path.join(tmp, 'dangling'));
          return path.join(tmp, 'dangling', 'cache');
        },
        /dangling is a symbolic link to .*nowhere, which does not exist/,
      ],
      ["under /proc (Node's recursive mkdir hangs there)", () => '/proc/x', /\/proc is a system folder/],
    ])('%s: one line naming the folder', async (_what, dir, message) => {
      const r = await infer('--input', rgb, '--cache-dir', dir());
      expectOneLine(r, message);
      expect(r.stderr).toMatch(/cache folder /);
    });

    it.skipIf(process.getuid?.() === 0)('on a read-only folder: one line naming the folder', async () => {
      const ro = path.join(tmp, 'read-only');
      mkdirSync(ro);
      chmodSync(ro, 0o555);
      const r = await infer('--input', rgb, '--cache-dir', path.join(ro, 'cache'));
      expectOneLine(r, /cache folder .*read-only\/cache: cannot create .*permission denied/);
    });
  });
});
