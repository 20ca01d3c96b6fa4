import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCalibrationFrames } from '../../src/app/calibration-frames.js';
import { readViTConfigFile } from '../../src/engine/config.js';
import { sharedPath } from '../helpers/shared.js';

describe('calibration frames', () => {
  it('takes frames from video files through ffmpeg, spread over each video', async () => {
    const config = readViTConfigFile(sharedPath('models', 'vit-cifar10-demo', 'config.json'));
    const frames = await loadCalibrationFrames(config, [sharedPath('media')], 12);
    expect(frames.count).toBe(12);
    expect(frames.perSource.every((s) => /\.(mp4|mkv)$/.test(s.source))).toBe(true);
    expect(frames.data.length).toBe(12 * 32 * 32 * 3);
  });

  it("a still image's unused share goes to the video beside it: all the frames asked for", async () => {
    const config = readViTConfigFile(sharedPath('models', 'vit-cifar10-demo', 'config.json'));
    const dir = mkdtempSync(path.join(tmpdir(), 'vitstream-calib-'));
    try {
      const png = path.join(dir, 'still.png');
      execFileSync('ffmpeg', [
        '-loglevel',
        'error',
        '-i',
        sharedPath('media', 'bottles_640x360.mp4'),
        '-frames:v',
        '1',
        png,
      ]);
      const clip = sharedPath('media', 'person_signing_640x480.mkv');
      const frames = await loadCalibrationFrames(config, [clip, png], 16);
      expect(frames.count).toBe(16);
      expect(frames.perSource).toEqual([
        { source: png, frames: 1 },
        { source: clip, frames: 15 },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
