import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg } from '../../src/video/ffmpeg.js';
import { keyframeRate, keyframesSuffice, probeKeyframeRate } from '../../src/video/keyframeRate.js';
import { makeClip, TempDir } from './media.js';

const tmp = new TempDir();
let gop10: string;
beforeAll(() => {
  // 25 fps, a keyframe every 10 frames and no scene-cut keyframes: 2.5 keyframes a second.
  gop10 = makeClip(tmp.file('gop10.mp4'), {
    frames: 60,
    codec: [
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      '-g',
      '10',
      '-sc_threshold',
      '0',
    ],
  });
});
afterAll(() => tmp.dispose());

describe('keyframe rate', () => {
  it('is measured from a keyframes-only decode of the file', async () => {
    const rate = await probeKeyframeRate(await resolveFfmpeg(), gop10);
    expect(rate).toBeCloseTo(2.5, 5);
  });

  it('is unknown with fewer than two keyframes or for a file that does not decode', async () => {
    expect(keyframeRate('[Parsed_showinfo_0 @ 0x1] n:   0 pts:      0 pts_time:0 ')).toBeUndefined();
    expect(await probeKeyframeRate(await resolveFfmpeg(), tmp.file('missing.mp4'))).toBeUndefined();
  });

  it('keyframes suffice when the sampling rate is at or below it', () => {
    expect(keyframesSuffice(2, 2.5)).toBe(true);
    expect(keyframesSuffice(2.5, 2.5)).toBe(true);
    expect(keyframesSuffice(3, 2.5)).toBe(false);
    expect(keyframesSuffice(0.1, undefined)).toBe(false);
  });
});
