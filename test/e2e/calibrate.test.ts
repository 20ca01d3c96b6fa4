import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCpuAdapter, openGpu } from '../../src/engine/gpu.js';
import type { Int8Scales } from '../../src/engine/int8/scales.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';

const dir = sharedPath('models', 'vit-cifar10-demo');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-calibrate-'));
beforeAll(ensureBuilt);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const args = (out: string) => [
  'calibrate',
  '--model',
  path.join(dir, 'config.json'),
  '--weights',
  path.join(dir, 'model.safetensors'),
  '--images',
  path.join(dir, 'rgb.npy'),
  '--frames',
  '10',
  '--method',
  'max',
  '--out',
  out,
];

describe('vitstream calibrate', () => {
  it('calibrates on the WebGPU engine (--backend webgpu) to the thresholds of the CPU reference', async () => {
    const onGpu = await runCli([...args(path.join(tmp, 'gpu.json')), '--backend', 'webgpu']);
    expect(onGpu.code, onGpu.stderr).toBe(0);
    expect(onGpu.stderr).toMatch(/on 10 frames .* FP32 on (?!the CPU)/);
    const onCpu = await runCli([...args(path.join(tmp, 'cpu.json')), '--backend', 'cpu']);
    expect(onCpu.code, onCpu.stderr).toBe(0);
    expect(onCpu.stderr).toMatch(/FP32 on the CPU/);
    const read = (f: string) => JSON.parse(readFileSync(path.join(tmp, f), 'utf8')) as Int8Scales;
    const gpu = read('gpu.json');
    const cpu = read('cpu.json');
    expect(gpu.images).toBe(10);
    for (const [l, b] of cpu.blocks.entries())
      for (const role of ['qkv', 'proj', 'fc1', 'fc2'] as const)
        expect(gpu.blocks[l][role].threshold, `${l}.${role}`).toBeCloseTo(b[role].threshold, 4);
    expect(gpu.weights).toEqual(cpu.weights);
  });

  it('by default uses the GPU engine on a GPU and the CPU reference on a software adapter', async () => {
    const gpu = await openGpu();
    const software = isCpuAdapter(gpu.adapter);
    gpu.device.destroy();
    const r = await runCli(args(path.join(tmp, 'auto.json')));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(software ? /FP32 on the CPU/ : /FP32 on (?!the CPU)/);
    expect(r.stderr).toContain(`scales written to ${path.join(tmp, 'auto.json')}`);
  });

  it('a read-only model folder (the default --out): exit 2 before calibrating, with a hint to use --out', async () => {
    const model = path.join(tmp, 'read-only-model');
    mkdirSync(model);
    for (const f of ['config.json', 'model.safetensors'])
      copyFileSync(path.join(dir, f), path.join(model, f));
    chmodSync(model, 0o555);
    try {
      const r = await runCli([
        'calibrate',
        '--model',
        model,
        '--images',
        path.join(dir, 'rgb.npy'),
        '--frames',
        '2',
      ]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(
        `cannot write the scales to ${path.join(model, 'scales.json')}: ${model} is read-only; pass --out <file>`,
      );
      expect(r.stderr).not.toMatch(/calibrating/);
      expect(existsSync(path.join(model, 'scales.json'))).toBe(false);
    } finally {
      chmodSync(model, 0o755);
    }
  });

  it('--backend other: exit 2 naming the flag', async () => {
    const r = await runCli([
      'calibrate',
      '--model',
      'x',
      '--weights',
      'y',
      '--images',
      'z',
      '--backend',
      'tpu',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--backend: expected auto, webgpu, cpu, got "tpu"/);
  });

  it('an --out it cannot write: exit 2 naming the file, before the calibration pass', async () => {
    const file = path.join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const out = path.join(file, 'scales.json');
    const r = await runCli(args(out));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`cannot write the scales to ${out}: ${file} is not a folder`);
    expect(r.stderr).not.toMatch(/calibrating/);
    expect(existsSync(out)).toBe(false);
  });
});
