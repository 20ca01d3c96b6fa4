import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames } from '../../src/video/decodeFrames.js';
import { sharedPath } from '../helpers/shared.js';
import { ffmpeg, ffprobeFramesPtsMs, makeClip, referenceFrames, TempDir } from './media.js';

const tmp = new TempDir();
let h264: string;
let vp9: string;
let mjpeg: string;
let vfr: string;
let odd: string;
let portrait: string;

beforeAll(() => {
  h264 = makeClip(tmp.file('a.mp4'), { frames: 24 });
  vp9 = makeClip(tmp.file('b.webm'), {
    frames: 20,
    codec: ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '200k'],
  });
  mjpeg = makeClip(tmp.file('c.avi'), { frames: 20, codec: ['-c:v', 'mjpeg', '-q:v', '5'] });
  odd = makeClip(tmp.file('odd.mp4'), { size: '1918x1078', frames: 6 });
  portrait = makeClip(tmp.file('portrait.mp4'), { size: '120x200', frames: 12 });
  // Variable frame rate: 10 frames 40 ms apart, then 10 frames 100 ms apart, then 5 frames 15 ms apart.
  vfr = tmp.file('vfr.mkv');
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=96x64:rate=25',
    '-frames:v',
    '25',
    '-vf',
    "setpts='(if(lt(N,10),N*0.04,if(lt(N,20),0.4+(N-10)*0.1,1.4+(N-20)*0.015)))/TB'",
    '-fps_mode',
    'vfr',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    vfr,
  ]);
});
afterAll(() => tmp.dispose());

async function decodeAll(
  file: string,
  size: number | { width: number; height: number },
  resize?: 'squash' | 'center-crop' | 'letterbox',
) {
  const frames = await lastValueFrom(decodeFrames(file, { size, resize }).pipe(toArray()));
  return frames;
}

describe('decodeFrames', () => {
  it.each([
    ['H.264/MP4', () => h264, 24],
    ['VP9/WebM', () => vp9, 20],
    ['MJPEG/AVI', () => mjpeg, 20],
  ])('decodes %s with pixels identical to ffmpeg own raw output', async (_name, file, count) => {
    const frames = await decodeAll(file(), 32);
    const ref = referenceFrames(file(), 'scale=32:32:flags=bilinear', 32, 32);
    expect(ref.length).toBe(count);
    expect(frames.length).toBe(count);
    frames.forEach((f, i) => {
      expect(f.index).toBe(i);
      expect(f.width).toBe(32);
      expect(Buffer.from(f.rgb).equals(ref[i])).toBe(true);
    });
  });

  it('takes timestamps from the stream on a variable-frame-rate file', async () => {
    const frames = await decodeAll(vfr, 16);
    const probe = ffprobeFramesPtsMs(vfr);
    expect(frames.length).toBe(probe.length);
    const t0 = probe[0];
    for (const [i, f] of frames.entries()) expect(f.ptsMs).toBeCloseTo(probe[i] - t0, 3);
    // the file really is VFR: distinct frame intervals
    const deltas = new Set(probe.slice(1).map((t, i) => Math.round(t - probe[i])));
    expect(deltas.size).toBeGreaterThanOrEqual(3);
  });

  it('decodes a real clip from the shared media with stream timestamps', async () => {
    const clip = sharedPath('media', 'person_signing_640x480.mkv');
    const frames = await decodeAll(clip, 24);
    const probe = ffprobeFramesPtsMs(clip);
    expect(frames.length).toBe(probe.length);
    expect(frames[frames.length - 1].ptsMs).toBeCloseTo(probe[probe.length - 1] - probe[0], 3);
    const ref = referenceFrames(clip, 'scale=24:24:flags=bilinear', 24, 24);
    expect(Buffer.from(frames[40].rgb).equals(ref[40])).toBe(true);
  });

  it('handles an odd size (1918x1078) with center-crop: geometry checked against an explicit crop', async () => {
    const frames = await decodeAll(odd, { width: 64, height: 64 }, 'center-crop');
    // 1918x1078 -> height 64 keeps aspect at width round(1918*64/1078) = 114; crop the centre 64 columns
    const w = Math.round((1918 * 64) / 1078);
    const ref = referenceFrames(
      odd,
      `scale=${w}:64:flags=bilinear,crop=64:64:${Math.trunc((w - 64) / 2)}:0`,
      64,
      64,
    );
    expect(frames.length).toBe(6);
    expect(ref.length).toBe(6);
    for (const [i, f] of frames.entries()) expect(Buffer.from(f.rgb).equals(ref[i])).toBe(true);
  });

  it('letterboxes a portrait video: black bars left and right, picture in the middle', async () => {
    const frames = await decodeAll(portrait, 60, 'letterbox');
    expect(frames.length).toBe(12);
    // 120x200 into 60x60 -> 36x60 picture, 12 px bars each side
    const ref = referenceFrames(portrait, 'scale=36:60:flags=bilinear,pad=60:60:12:0:color=black', 60, 60);
    expect(Buffer.from(frames[3].rgb).equals(ref[3])).toBe(true);
  });

  it('decodes an image directory and a glob', async () => {
    const dir = tmp.file('imgs');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=5', '-frames:v', '4', `${dir}-%02d.png`]);
    const { mkdirSync, renameSync } = await import('node:fs');
    mkdirSync(dir);
    for (let i = 1; i <= 4; i++) renameSync(`${dir}-0${i}.png`, `${dir}/img-0${i}.png`);
    const a = await decodeAll(dir, 16);
    const b = await decodeAll(`${dir}/*.png`, 16);
    expect(a.length).toBe(4);
    expect(b.length).toBe(4);
    expect(a.map((f) => f.ptsMs)).toEqual([0, 40, 80, 120]);
    const ref = referenceFrames(`${dir}/img-03.png`, 'scale=16:16:flags=bilinear', 16, 16);
    expect(Buffer.from(a[2].rgb).equals(ref[0])).toBe(true);
    // Each frame names its image, from the folder and from the glob alike.
    const names = [1, 2, 3, 4].map((i) => `${dir}/img-0${i}.png`);
    expect(a.map((f) => f.file)).toEqual(names);
    expect(b.map((f) => f.file)).toEqual(names);
    expect((await decodeAll(`${dir}/img-0[13].png`, 16)).map((f) => f.file)).toEqual([names[0], names[2]]);
  });

  it('a corrupt image in a folder: the others named right, then an error naming it', async () => {
    const dir = tmp.file('imgs-bad');
    const { mkdirSync, renameSync, writeFileSync } = await import('node:fs');
    mkdirSync(dir);
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=5', '-frames:v', '4', `${dir}/img-%02d.png`]);
    renameSync(`${dir}/img-02.png`, `${dir}/.hidden.png`); // glob(3) skips dotfiles; so must the names
    writeFileSync(`${dir}/img-02.png`, 'not a png');
    const frames: { file?: string; rgb: Uint8Array }[] = [];
    const error = await new Promise<Error | undefined>((resolve) =>
      decodeFrames(dir, { size: 16 }).subscribe({
        next: (f) => frames.push({ file: f.file, rgb: f.rgb.slice() }),
        error: resolve,
        complete: () => resolve(undefined),
      }),
    );
    expect(frames.map((f) => f.file)).toEqual([
      `${dir}/img-01.png`,
      `${dir}/img-03.png`,
      `${dir}/img-04.png`,
    ]);
    const ref = referenceFrames(`${dir}/img-03.png`, 'scale=16:16:flags=bilinear', 16, 16);
    expect(Buffer.from(frames[1]!.rgb).equals(ref[0])).toBe(true);
    expect(error?.message).toBe(`video source ${dir}: 1 of 4 images could not be decoded: ${dir}/img-02.png`);
  });

  it('a missing size or an unknown resize mode: an error saying what is expected', async () => {
    const errorOf = (o: Parameters<typeof decodeFrames>[1]) =>
      new Promise<Error>((resolve) =>
        decodeFrames(sharedPath('media', 'bottles_640x360.mp4'), o).subscribe({
          error: resolve,
          complete: () => resolve(new Error('completed')),
        }),
      );
    expect((await errorOf({} as Parameters<typeof decodeFrames>[1])).message).toMatch(
      /options\.size is required/,
    );
    expect((await errorOf({ size: 16, resize: 'zoom' as 'squash' })).message).toMatch(
      /resize must be 'squash', 'center-crop' or 'letterbox', got "zoom"/,
    );
  });

  it('reads a Node stream through stdin', async () => {
    const { createReadStream } = await import('node:fs');
    const frames = await lastValueFrom(
      decodeFrames({ stream: createReadStream(mjpeg), id: 'pipe' }, { size: 8 }).pipe(toArray()),
    );
    expect(frames.length).toBe(20);
    expect(frames[0].streamId).toBe('pipe');
  });

  it('reuses pooled buffers once frames are released', async () => {
    const long = makeClip(tmp.file('pool.mp4'), { frames: 120 });
    const seen = new Set<ArrayBufferLike>();
    let n = 0;
    await new Promise<void>((resolve, reject) =>
      decodeFrames(long, { size: 64, maxUnreleased: 2 }).subscribe({
        next: (f) => {
          seen.add(f.rgb.buffer);
          n++;
          f.release?.();
        },
        error: reject,
        complete: resolve,
      }),
    );
    expect(n).toBe(120);
    // Frames read from stdout each hold a buffer until their timestamp line arrives on stderr: on an
    // idle machine that is a pipe chunk's worth (64 KiB: 6 frames here) plus those lent out, about 10
    // buffers; a loaded one can read stderr a few chunks late (12 seen under two busy loops). Either way
    // buffers are reused, not one per frame.
    expect(seen.size).toBeLessThanOrEqual(30);
  });

  it('never drops a file frame when the consumer releases late (backpressure)', async () => {
    const held: { release?: () => void; index: number }[] = [];
    const got: number[] = [];
    await new Promise<void>((resolve, reject) => {
      decodeFrames(h264, { size: 16, maxUnreleased: 3 }).subscribe({
        next: (f) => {
          got.push(f.index);
          held.push(f);
          expect(held.length).toBeLessThanOrEqual(3);
          // release asynchronously, slower than ffmpeg produces
          setTimeout(() => held.shift()?.release?.(), 5);
        },
        error: reject,
        complete: resolve,
      });
    });
    expect(got).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });

  it('emits the first frame without waiting for the whole file', async () => {
    const f = await firstValueFrom(
      decodeFrames(sharedPath('media', 'people_at_table_768x432_long.mp4'), { size: 8 }),
    );
    expect(f.index).toBe(0);
    expect(f.ptsMs).toBe(0);
  });
});
