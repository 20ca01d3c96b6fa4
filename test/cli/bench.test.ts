import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';

beforeAll(() => ensureBuilt());

interface BenchRow {
  precision: string;
  batch: number;
  medianMs: number;
  speedupVsFp16?: number;
  gpuMs?: number;
  gpuSpeedupVsFp16?: number;
}
interface BenchJson {
  rows: BenchRow[];
  gemmChoices: Record<string, Record<string, string>>;
  int8: { rows: BenchRow[]; gemmChoices: Record<string, Record<string, string>>; agreement: unknown[] };
}

describe('vitstream bench engine', () => {
  it('times every precision and batch, and --gemm picks the kernels of the FP and the INT8 engines alike', async () => {
    const r = await runCli(
      [
        'bench',
        'engine',
        '--model',
        sharedPath('fixtures', 'vit-tiny-test', 'config.json'),
        '--precision',
        'fp16,int8',
        '--batch',
        '1,2',
        '--iterations',
        '2',
        '--warmup',
        '1',
        '--gemm',
        'portable',
        '--json',
      ],
      { timeoutMs: 120_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as BenchJson;
    expect(out.rows.map((x) => `${x.precision}@${x.batch}`)).toEqual(['fp16@1', 'fp16@2']);
    expect(out.int8.rows.map((x) => `${x.precision}@${x.batch}`)).toEqual([
      'int8-m1@1',
      'int8-m1@2',
      'int8-m2@1',
      'int8-m2@2',
    ]);
    for (const row of [...out.rows, ...out.int8.rows]) expect(row.medianMs).toBeGreaterThan(0);
    for (const row of out.int8.rows) expect(row.speedupVsFp16).toBeGreaterThan(0);
    // The forward pass's GPU time from timestamp queries (lavapipe has them), and its speedup.
    for (const row of [...out.rows, ...out.int8.rows]) expect(row.gpuMs).toBeGreaterThan(0);
    for (const row of out.int8.rows) expect(row.gpuSpeedupVsFp16).toBeGreaterThan(0);
    expect(out.int8.agreement).toHaveLength(2);
    // Portable everywhere: the FP GEMMs' portable kernel and INT8's dot4, on any adapter (the
    // INT8 bench used to take tuned tensor-core tiles whatever --gemm said).
    expect(new Set(Object.values(out.gemmChoices.fp16))).toEqual(new Set(['portable']));
    for (const mode of ['int8-m1', 'int8-m2'])
      for (const role of ['qkv', 'proj', 'fc1', 'fc2']) expect(out.int8.gemmChoices[mode][role]).toBe('dot4');
  }, 150_000);

  // Checked before the GPU opens: none of these may print a table or time anything first (the
  // INT8 flags used to be read only after the FP32/FP16 runs).
  const model = () => sharedPath('fixtures', 'vit-tiny-test', 'config.json');
  it.each([
    [['--gemm', 'fastest'], /--gemm: expected auto, portable, subgroup-matrix, tuned, got "fastest"/],
    [['--warmup', '-1'], /--warmup: expected a whole number >= 0, got "-1"/],
    [['--precision', 'fp8'], /--precision: expected fp32, fp16 or int8, got "fp8"/],
    [['--precision', 'fp16,int8', '--int8-mode', '3'], /--int8-mode: expected 1 and\/or 2, got "3"/],
    [
      ['--precision', 'fp16,int8', '--int8-attention', 'fp8'],
      /--int8-attention: expected int8, fp16, got "fp8"/,
    ],
    [
      ['--precision', 'fp16,int8', '--scales', '/no/such/scales.json'],
      /\/no\/such\/scales\.json: cannot read INT8 scales/,
    ],
  ])('%j: exit 2 naming the flag or file, before any timing', async (extra, message) => {
    const r = await runCli(['bench', '--model', model(), '--batch', '1', '--iterations', '1', ...extra]);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/batch 1:|opening/);
    expect(r.stdout).toBe('');
  });
});
