import os from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_NVDEC_DECODERS,
  defaultCpuDecoders,
  defaultDecoders,
  parseDecodeFlags,
} from '../../src/cli/decode-options.js';
import { resolveFfmpeg } from '../../src/video/ffmpeg.js';
import { nvdecSupport } from '../../src/video/hwaccel.js';

describe('decode flags', () => {
  it('defaults: NVDEC where it works, NV12, every frame', () => {
    expect(parseDecodeFlags({})).toEqual({
      hwaccel: 'auto',
      keyframesOnly: undefined,
      pixelFormat: 'nv12',
      decoders: undefined,
    });
    expect(
      parseDecodeFlags({ hwaccel: 'none', pixelFormat: 'rgb', keyframesOnly: true, decoders: '3' }),
    ).toEqual({
      hwaccel: 'none',
      keyframesOnly: true,
      pixelFormat: 'rgb',
      decoders: 3,
    });
  });

  it('bad values name the flag', () => {
    expect(() => parseDecodeFlags({ hwaccel: 'nvenc' })).toThrow(/--hwaccel: expected auto, cuda, none/);
    expect(() => parseDecodeFlags({ pixelFormat: 'yuv444p' })).toThrow(/--pixel-format: expected rgb, nv12/);
    expect(() => parseDecodeFlags({ decoders: '0' })).toThrow(/--decoders/);
  });

  it('--decoders defaults to 8 with NVDEC, a quarter of the cores (2 to 8) on the CPU', async () => {
    expect([1, 2, 8, 12, 16, 32, 64, 128].map((cores) => defaultCpuDecoders(cores))).toEqual([
      2, 2, 2, 3, 4, 8, 8, 8,
    ]);
    const ff = await resolveFfmpeg();
    const cpu = defaultCpuDecoders(os.availableParallelism());
    expect(await defaultDecoders('none', ff)).toBe(cpu);
    expect(await defaultDecoders('cuda', ff)).toBe(8);
    const nvdec = (await nvdecSupport(ff)).available;
    expect(await defaultDecoders('auto', ff)).toBe(nvdec ? DEFAULT_NVDEC_DECODERS : cpu);
  });
});
