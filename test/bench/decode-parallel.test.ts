import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchParallelDecode, formatParallelDecode } from '../../bench/decode-parallel.js';
import { resolveFfmpeg } from '../../src/video/ffmpeg.js';
import { nvdecSupport } from '../../src/video/hwaccel.js';
import { makeClip, TempDir } from '../video/media.js';

const tmp = new TempDir();
let clip: string;
beforeAll(() => {
  clip = makeClip(tmp.file('a.mp4'), { frames: 12 });
});
afterAll(() => tmp.dispose());

describe('bench decode: hwaccel x pixel format x parallel', () => {
  it('runs P decodes at once per row and counts their frames; NVDEC rows say when it is missing', async () => {
    const ff = await resolveFfmpeg();
    const nvdec = (await nvdecSupport(ff)).available;
    const opts = {
      file: clip,
      ffmpeg: ff,
      hwaccels: ['none', 'cuda'] as const,
      pixelFormats: ['rgb', 'nv12'] as const,
      parallel: [1, 3],
      frames: 5,
      size: 32,
    };
    const rows = await benchParallelDecode({
      ...opts,
      hwaccels: [...opts.hwaccels],
      pixelFormats: [...opts.pixelFormats],
    });
    expect(rows.map((r) => `${r.hwaccel} ${r.pixelFormat} ${r.parallel}`)).toEqual([
      'none rgb 1',
      'none rgb 3',
      'none nv12 1',
      'none nv12 3',
      'cuda rgb 1',
      'cuda rgb 3',
      'cuda nv12 1',
      'cuda nv12 3',
    ]);
    for (const r of rows) {
      if (r.hwaccel === 'cuda' && !nvdec) {
        expect(r.skipped).toMatch(/NVDEC|cuda/);
        continue;
      }
      expect(r.frames).toBe(5 * r.parallel);
      expect(r.fps).toBeGreaterThan(0);
    }
    const text = formatParallelDecode(
      { ...opts, hwaccels: [...opts.hwaccels], pixelFormats: [...opts.pixelFormats] },
      rows,
    );
    expect(text).toMatch(/\| hwaccel \| pixels \| P \| frames \|/);
    expect(text).toMatch(/CPU ms\/frame/);
  });
});
