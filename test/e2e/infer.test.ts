import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/util/npy.js';
import { cifarModel, ensureBuilt, runCli } from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';

// `vitstream infer` (images or tensors in, logits out) against the checkpoint's golden logits.
// Golden rows are frames of frames.tsv; rgb.npy / pixel_values.npy hold the same frames as uint8
// RGB and as normalised float32. A few rows keep the test fast: lavapipe runs ~40 frames/s.

const model = cifarModel();
const ROWS = 24;
const golden = readNpy(model.file('logits.npy'));
const C = golden.shape[1]!;

let tmp: string;
beforeAll(() => {
  ensureBuilt();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-e2e-infer-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The first `n` rows of a shared .npy, written to the temp folder. */
function firstRows(name: string, n: number): string {
  const a = readNpy(model.file(name));
  const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
  const file = path.join(tmp, `${n}-${name}`);
  writeNpy(file, a.data.subarray(0, n * per) as Float32Array | Uint8Array, [n, ...a.shape.slice(1)]);
  return file;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('vitstream infer', () => {
  it('uint8 RGB .npy, default precision (fp16): --out logits match the golden logits within 2e-2', async () => {
    const out = path.join(tmp, 'rgb-logits.npy');
    const r = await runCli(['infer', '--input', firstRows('rgb.npy', ROWS), ...model.args, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const logits = readNpy(out);
    expect(logits.dtype).toBe('float32');
    expect(logits.shape).toEqual([ROWS, C]);
    expect(maxAbsDiff(logits.data, golden.data.subarray(0, ROWS * C))).toBeLessThan(2e-2);
    // Text output: one block per input row, named file[i].
    expect(r.stdout).toMatch(/rgb\.npy\[0\]\n\s+[\d.]+%\s+\w+ \(\d\)/);
    expect(r.stdout.match(/rgb\.npy\[\d+\]/g)).toHaveLength(ROWS);
  });

  it('float32 pixel values .npy with --precision fp32: within 1e-4', async () => {
    const out = path.join(tmp, 'pixel-logits.npy');
    const r = await runCli([
      'infer',
      '--input',
      firstRows('pixel_values.npy', ROWS),
      ...model.args,
      '--precision',
      'fp32',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(maxAbsDiff(readNpy(out).data, golden.data.subarray(0, ROWS * C))).toBeLessThan(1e-4);
  });

  it('a PNG made by ffmpeg from a clip frame, the way the golden frames were made: same logits', async () => {
    // frames.tsv row 5 is second 5 of the airplane clip; ffmpeg makes the same 32x32 frame as a PNG.
    const png = path.join(tmp, 'airplane-5s.png');
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-i',
      sharedPath('media', 'airplane_field_640x360.mp4'),
      '-vf',
      'fps=1,scale=32:32:flags=area,select=eq(n\\,5)',
      '-frames:v',
      '1',
      png,
    ]);
    const out = path.join(tmp, 'png-logits.npy');
    const r = await runCli([
      'infer',
      '--input',
      png,
      ...model.args,
      '--precision',
      'fp32',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const row = golden.data.subarray(5 * C, 6 * C);
    expect(maxAbsDiff(readNpy(out).data, row)).toBeLessThan(1e-3);
    const json = JSON.parse(r.stdout) as { input: string; top: { index: number; label: string }[] }[];
    expect(json).toHaveLength(1);
    expect(json[0]!.input).toBe(png);
    const argmax = Array.from(row).indexOf(Math.max(...row));
    expect(json[0]!.top[0]!.index).toBe(argmax);
  });

  it('bad input: a tensor of the wrong shape, a missing file -> exit 2 naming the file', async () => {
    const wrong = path.join(tmp, 'wrong.npy');
    writeNpy(wrong, new Float32Array(2 * 3 * 16 * 16), [2, 3, 16, 16]);
    const missing = path.join(tmp, 'missing.png');
    const [a, b] = await Promise.all([
      runCli(['infer', '--input', wrong, ...model.args]),
      runCli(['infer', '--input', missing, ...model.args]),
    ]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain(`${wrong}: expected uint8 [N, 32, 32, 3]`);
    expect(a.stderr).toContain('found float32 [2, 3, 16, 16]');
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(`--input ${missing}: no such file`);
    for (const r of [a, b]) expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
