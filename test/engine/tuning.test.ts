import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readViTConfigFile } from '../../src/engine/config.js';
import { gemmRows, gemmShapes } from '../../src/engine/forward-plan.js';
import { defaultTensorPolicy } from '../../src/engine/gemm-policy.js';
import type { GpuContext } from '../../src/engine/gpu.js';
import { defaultTile } from '../../src/engine/int8/int8-policy.js';
import { int8TunedPolicy } from '../../src/engine/int8/int8-tuning.js';
import { variantKey } from '../../src/engine/kernels/gemm.js';
import {
  adapterKey,
  batchesCovered,
  fastestCandidate,
  TUNE_PASSES,
  type TuningCache,
  timeInPasses,
  tunedPolicy,
} from '../../src/engine/tuning.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';

// An H100-like adapter for the policies, which look only at its name, features and limits.
const h100 = {
  info: { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100 (test)' },
  hasF16TensorCores: true,
  hasI8TensorCores: true,
  limits: { maxComputeWorkgroupStorageSize: 49152 },
} as unknown as GpuContext;
const noTensorCores = { ...h100, hasF16TensorCores: false, hasI8TensorCores: false } as GpuContext;

const entry = (variant: string) => ({ variant, ms: 0.1, tflops: 100, candidates: { [variant]: 0.1 } });

describe('tuned GEMM policies read the cache', () => {
  const cache: TuningCache = {
    version: 1,
    adapters: {
      [adapterKey(h100)]: {
        'f16 577x2304x768': entry('sgmat-2x2-bk128-w-st1'),
        'f16 18464x2304x768': entry('sgmat-2x4-f4x2-bk64-w-st1'),
        'f16 577x768x3072': entry('no-such-kernel'),
        'i8 577x2304x768': entry('i8mat-2x2-f2x2-bk128-st1'),
        'i8 18464x2304x768': entry('i8mat-2x4-f4x2-bk128-st1'),
        'i8 577x768x3072': entry('no-such-kernel'),
      },
    },
  };

  it('FP16: exact shape, else the nearest M of the same N and K, else the default', () => {
    const p = tunedPolicy(h100, 'f16', cache);
    expect(variantKey(p('qkv', 577, 2304, 768))).toBe('sgmat-2x2-bk128-w-st1');
    expect(variantKey(p('qkv', 18464, 2304, 768))).toBe('sgmat-2x4-f4x2-bk64-w-st1');
    // 9232 is nearer 18464 than 577 on a log scale.
    expect(variantKey(p('qkv', 9232, 2304, 768))).toBe('sgmat-2x4-f4x2-bk64-w-st1');
    expect(variantKey(p('qkv', 1154, 2304, 768))).toBe('sgmat-2x2-bk128-w-st1');
    // Unknown name or unseen shape: the default policy (64x64 tiles when 128x128 ones would be
    // under 64, split-K for deep K).
    expect(variantKey(p('fc2', 577, 768, 3072))).toBe('sgmat-2x2-w-s2');
    expect(variantKey(p('proj', 577, 768, 768))).toBe('sgmat-2x2-bk128-w-st1');
    expect(variantKey(p('fc1', 577, 3072, 768))).toBe('sgmat-2x4-f4x2-bk64-w-st1');
    // 128x256 tiles from 64 of them; K or N not a multiple of 8 rules them out.
    expect(variantKey(p('proj', 18464, 768, 768))).toBe('sgmat-2x4-f4x4-w-st1');
    expect(variantKey(p('proj', 18464, 764, 768))).toBe('sgmat-2x4-f4x2');
    // Without tensor cores every shape is portable, whatever the cache says.
    expect(variantKey(tunedPolicy(noTensorCores, 'f16', cache)('qkv', 577, 2304, 768))).toBe('portable');
  });

  it('INT8: the same lookup over i8 entries; no entries or no i8 tensor cores: no policy', () => {
    const p = int8TunedPolicy(h100, cache)!;
    expect(p).toBeDefined();
    expect(p('qkv', 577, 2304, 768)).toMatchObject({ sgM: 2, sgN: 2, fm: 2, fn: 2, bk: 128, stages: 1 });
    expect(p('qkv', 9232, 2304, 768)).toMatchObject({ sgM: 2, sgN: 4, fm: 4, fn: 2, bk: 128 });
    // An unparseable name falls back to the size-based default tile.
    expect(p('fc2', 577, 768, 3072)).toMatchObject({ kind: 'subgroup-matrix' });
    expect(int8TunedPolicy(noTensorCores, cache)).toBeUndefined();
    expect(int8TunedPolicy(h100, { version: 1, adapters: {} })).toBeUndefined();
  });

  it('a shape tuned more than twice as large or small does not stand in: the default policy does', () => {
    // Tuned at batch 32 only (as `vitstream tune --batch 32` leaves it): batch 1 (M = 577, 32x
    // fewer rows) and batch 8 (M = 4616, 4x) take the defaults, batch 16 (M = 9232, 2x) the tuned tile.
    const batch32: TuningCache = {
      version: 1,
      adapters: {
        [adapterKey(h100)]: {
          'f16 18464x2304x768': entry('sgmat-4x2-f4x4-w-st1'),
          'i8 18464x2304x768': entry('i8mat-2x4-f4x2-bk128-st1'),
        },
      },
    };
    const p = tunedPolicy(h100, 'f16', batch32);
    const fallback = defaultTensorPolicy(h100);
    expect(variantKey(p('qkv', 577, 2304, 768))).toBe(variantKey(fallback('qkv', 577, 2304, 768)));
    expect(variantKey(p('qkv', 577, 2304, 768))).not.toBe('sgmat-4x2-f4x4-w-st1');
    expect(variantKey(p('qkv', 4616, 2304, 768))).toBe(variantKey(fallback('qkv', 4616, 2304, 768)));
    expect(variantKey(p('qkv', 9232, 2304, 768))).toBe('sgmat-4x2-f4x4-w-st1');
    const q = int8TunedPolicy(h100, batch32)!;
    expect(q('qkv', 577, 2304, 768)).toEqual(defaultTile(577, 2304));
    expect(q('qkv', 9232, 2304, 768)).toMatchObject({ sgM: 2, sgN: 4, fm: 4, fn: 2, bk: 128 });
  });
});

describe('tuning timings', () => {
  it("keep each candidate's fastest reading over the passes, time the passes one after the other, and drop one that fails", async () => {
    const readings: Record<string, number[]> = { a: [0.9, 0.3], b: [0.4, 0.5], c: [0.2, 0.2] };
    const order: string[] = [];
    const got = await timeInPasses(['a', 'b', 'c', 'broken'], async (key) => {
      order.push(key);
      if (key === 'broken') return undefined;
      return readings[key][order.filter((k) => k === key).length - 1];
    });
    expect(TUNE_PASSES).toBe(2);
    expect(got).toEqual({ a: 0.3, b: 0.4, c: 0.2 });
    // Whole passes in list order; the failed candidate is not tried again.
    expect(order).toEqual(['a', 'b', 'c', 'broken', 'a', 'b', 'c']);
    expect(fastestCandidate(got)).toEqual(['c', 0.2]);
    expect(fastestCandidate({})).toBeUndefined();
  });
});

describe('batch sizes a tuning covers', () => {
  it('each tuned batch covers half to twice itself; overlapping or touching spans merge', () => {
    expect(batchesCovered([32])).toBe('16-64');
    expect(batchesCovered([1, 8, 16, 32])).toBe('1-2, 4-64');
    expect(batchesCovered([3])).toBe('2-6');
    expect(batchesCovered([1, 3])).toBe('1-6');
  });
});

describe('vitstream tune (this adapter)', () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(path.join(os.tmpdir(), 'vitstream-tune-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('times every GEMM shape of a model and batch, writes the cache, and says when INT8 has nothing to tune', async () => {
    const configFile = sharedPath('fixtures', 'vit-tiny-test', 'config.json');
    const cacheFile = path.join(dir, 'tuning.json');
    const r = await runCli(
      ['tune', '--model', configFile, '--precision', 'fp16,int8', '--batch', '1,2', '--cache', cacheFile],
      // On a tensor-core adapter every candidate tile is timed twice after a 150 ms warm-up:
      // 125 s on the H100 (seconds on lavapipe, which has few candidates).
      { timeoutMs: 280_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8')) as TuningCache;
    const tables = Object.values(cache.adapters);
    expect(tables).toHaveLength(1);
    const config = readViTConfigFile(configFile);
    const shapes = gemmShapes(config);
    for (const batch of [1, 2])
      for (const role of Object.keys(shapes) as (keyof typeof shapes)[]) {
        const { N, K } = shapes[role];
        const key = `f16 ${gemmRows(config, role, batch)}x${N}x${K}`;
        expect(tables[0][key], key).toBeDefined();
        expect(r.stdout).toContain(`${gemmRows(config, role, batch)}x${N}x${K}`);
      }
    // Tuned at 1 and 2: within a factor of 2 of either, batches 1 to 4.
    expect(r.stdout).toContain('engines use these tiles at batch sizes 1-4;');
    // lavapipe has no i8 subgroup matrices: one INT8 kernel, nothing to tune, and it says so.
    if (!r.stderr.includes('no i8 tensor cores'))
      expect(Object.keys(tables[0]).some((k) => k.startsWith('i8 '))).toBe(true);
  }, 300_000);

  it('a --cache it cannot write: exit 2 naming the file, before any timing', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'x');
    const cacheFile = path.join(file, 'tuning.json');
    const configFile = sharedPath('fixtures', 'vit-tiny-test', 'config.json');
    const r = await runCli([
      'tune',
      '--model',
      configFile,
      '--precision',
      'fp32',
      '--batch',
      '1',
      '--cache',
      cacheFile,
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`cannot write the tuning cache to ${cacheFile}: ${file} is not a folder`);
    expect(r.stdout).not.toContain('portable');
    const folder = await runCli(['tune', '--model', configFile, '--batch', '1', '--cache', dir]);
    expect(folder.code, folder.stderr).toBe(2);
    expect(folder.stderr).toContain(`cannot write the tuning cache to ${dir}: it is a folder`);
  });

  it('--int8-mode 3: exit 2 naming the flag', async () => {
    const r = await runCli(['tune', '--precision', 'int8', '--int8-mode', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--int8-mode: expected 1 or 2, got "3"/);
  });
});
