import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames } from '../../src/video/decodeFrames.js';
import type { Frame } from '../../src/video/frame.js';
import { ffmpeg, makeClip, TempDir } from './media.js';

const tmp = new TempDir();
afterAll(() => tmp.dispose());

/** Decodes everything; returns the frames that came before the error, and the error. */
async function attempt(input: string): Promise<{ frames: Frame[]; error: Error | undefined }> {
  const frames: Frame[] = [];
  try {
    await lastValueFrom(decodeFrames(input, { size: 16 }).pipe(toArray())).then((f) => frames.push(...f));
    return { frames, error: undefined };
  } catch (error) {
    return { frames, error: error as Error };
  }
}

async function attemptCollect(input: string) {
  const frames: Frame[] = [];
  const error = await new Promise<Error | undefined>((resolve) =>
    decodeFrames(input, { size: 16 }).subscribe({
      next: (f) => frames.push(f),
      error: resolve,
      complete: () => resolve(undefined),
    }),
  );
  return { frames, error };
}

let good: string;
beforeAll(() => {
  good = makeClip(tmp.file('good.mkv'), { frames: 40 });
});

describe('bad inputs give a VideoSourceError naming the input and the reason', () => {
  const expectError = (error: Error | undefined, input: string, reason: RegExp) => {
    expect(error?.name).toBe('VideoSourceError');
    expect(error?.message).toContain(input);
    expect(error?.message).toMatch(reason);
    expect((error as { input?: string }).input).toBe(input);
  };

  it('missing file', async () => {
    const f = tmp.file('nope.mp4');
    expectError((await attempt(f)).error, f, /no such file/i);
  });

  it('zero-length file', async () => {
    const f = tmp.file('empty.mp4');
    writeFileSync(f, '');
    expectError((await attempt(f)).error, f, /empty/i);
  });

  it('not a video', async () => {
    const f = tmp.file('notes.mp4');
    writeFileSync(f, 'these are not the frames you are looking for\n'.repeat(50));
    expectError((await attempt(f)).error, f, /not a (recognisable video|complete MP4)/i);
  });

  it('audio-only file', async () => {
    const f = tmp.file('tone.m4a');
    ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '0.5', f]);
    expectError((await attempt(f)).error, f, /no video stream/i);
  });

  it('unsupported codec', async () => {
    // An AVI whose fourcc no decoder knows: written by ffmpeg as MPEG-4 part 2, tag rewritten.
    const src = tmp.file('mpeg4.avi');
    makeClip(src, { frames: 5, codec: ['-c:v', 'mpeg4'] });
    const bytes = Buffer.from(readFileSync(src).toString('latin1').replaceAll('FMP4', 'QQQQ'), 'latin1');
    const f = tmp.file('unknown-codec.avi');
    writeFileSync(f, bytes);
    expectError((await attempt(f)).error, f, /codec/i);
  });

  it('truncated file: the valid part is decoded, then the error', async () => {
    const f = tmp.file('cut.mkv');
    writeFileSync(f, readFileSync(good));
    truncateSync(f, Math.floor(readFileSync(good).length * 0.6));
    // What ffmpeg itself gets out of the cut file, independently:
    const reference =
      ffmpeg(['-i', f, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-vf', 'scale=16:16', '-']).length /
      (16 * 16 * 3);
    const { frames, error } = await attemptCollect(f);
    expect(reference).toBeGreaterThan(0);
    expect(reference).toBeLessThan(40);
    expect(frames.length).toBe(reference);
    expectError(error, f, /truncated|corrupt|decode errors|stopped/i);
  });

  it('corrupt data in the middle of a file', async () => {
    const f = tmp.file('corrupt.avi');
    makeClip(f, { frames: 30, codec: ['-c:v', 'mjpeg'] });
    const bytes = readFileSync(f);
    // scribble over the middle third: some JPEGs become undecodable
    for (let i = Math.floor(bytes.length / 3); i < (2 * bytes.length) / 3; i += 7)
      bytes[i] = (bytes[i] * 31 + 17) & 255;
    writeFileSync(f, bytes);
    const { frames, error } = await attemptCollect(f);
    expect(frames.length).toBeGreaterThan(0);
    expectError(error, f, /corrupt|decode errors|invalid|truncated/i);
  });

  it('unreachable URL', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    const url = `http://127.0.0.1:${port}/video.mp4`;
    expectError((await attempt(url)).error, url, /unreachable.*refused/i);
  });

  it('a directory without images', async () => {
    expectError((await attempt(`${tmp.dir}/`)).error, `${tmp.dir}/`, /no images/i);
  });

  it('events: the error (the cause) comes before the end it led to', async () => {
    const types: string[] = [];
    const missing = tmp.file('absent.mp4');
    await new Promise<void>((resolve) =>
      decodeFrames(missing, { size: 16, onEvent: (e) => types.push(e.type) }).subscribe({
        error: () => resolve(),
        complete: () => resolve(),
      }),
    );
    expect(types.slice(-2)).toEqual(['error', 'ended']);
  });

  it('a glob that matches no file', async () => {
    const glob = `${tmp.dir}/nothing-*.png`;
    expectError((await attempt(glob)).error, glob, /: no file matches this glob/);
  });
});
