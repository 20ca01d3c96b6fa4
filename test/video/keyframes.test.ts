import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames } from '../../src/video/decodeFrames.js';
import { ffprobeFrameRows, makeClip, TempDir } from './media.js';

const tmp = new TempDir();
let clip: string;

beforeAll(() => {
  // 50 frames at 25 fps, a keyframe every 12 frames and at scene cuts: timestamps not on a round grid.
  clip = makeClip(tmp.file('gop.mp4'), {
    frames: 50,
    codec: ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '12'],
    extra: ['-video_track_timescale', '12800'],
  });
});
afterAll(() => tmp.dispose());

/** The keyframes ffprobe lists (key_frame=1), their pts in ms. */
function probedKeyframesMs(file: string): number[] {
  return ffprobeFrameRows(file, ['key_frame', 'pts_time'])
    .filter(([key]) => key === '1')
    .map(([, pts]) => Math.round(Number(pts) * 1e6) / 1e3);
}

describe('keyframesOnly', () => {
  it('gives exactly the keyframes ffprobe lists, with their pts', async () => {
    const expected = probedKeyframesMs(clip);
    expect(expected.length).toBeGreaterThanOrEqual(5);
    expect(expected.length).toBeLessThan(50);
    for (const pixelFormat of ['rgb', 'nv12'] as const) {
      const frames = await lastValueFrom(
        decodeFrames(clip, { size: 32, keyframesOnly: true, pixelFormat }).pipe(toArray()),
      );
      expect(frames.map((f) => Math.round(f.ptsMs * 1e3) / 1e3)).toEqual(expected);
      expect(frames.map((f) => f.index)).toEqual(expected.map((_, i) => i));
    }
  });

  it('decodes every frame without it', async () => {
    const frames = await lastValueFrom(decodeFrames(clip, { size: 32 }).pipe(toArray()));
    expect(frames.length).toBe(50);
  });
});
