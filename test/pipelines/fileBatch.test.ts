import { lastValueFrom, map, mergeMap, tap, timer, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileBatch } from '../../pipelines/fileBatch.js';
import type { FrameInfo } from '../../src/video/frame.js';
import { sharedPath } from '../helpers/shared.js';
import { ffprobeFramesPtsMs, makeClip, referenceFrames, TempDir } from '../video/media.js';

const tmp = new TempDir();
let a: string;
let b: string;
beforeAll(() => {
  a = makeClip(tmp.file('a.mp4'), { frames: 23 });
  b = makeClip(tmp.file('b.webm'), {
    frames: 17,
    codec: ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8'],
  });
});
afterAll(() => tmp.dispose());

describe('fileBatch', () => {
  it('turns files into sampled batches without losing a frame, even with a slow consumer', async () => {
    const street = sharedPath('media', 'street_bikes_640x272.mp4');
    const infos: FrameInfo[] = [];
    let pixelsOk = true;
    const refA = referenceFrames(a, 'scale=16:16:flags=bilinear', 16, 16);
    const batches = await lastValueFrom(
      fileBatch([a, b, street], { size: 16, sample: { every: 2 }, maxBatch: 5, maxInFlight: 2 }).pipe(
        // a consumer slower than decoding, releasing each batch when done (like an engine)
        mergeMap(
          (batch) =>
            timer(2).pipe(
              tap(() => {
                batch.frames.forEach((f, i) => {
                  if (
                    f.streamId === a &&
                    !Buffer.from(batch.data.subarray(i * 768, (i + 1) * 768)).equals(refA[f.index])
                  )
                    pixelsOk = false;
                });
                infos.push(...batch.frames);
                batch.release();
              }),
              map(() => batch.count),
            ),
          2,
        ),
        toArray(),
      ),
    );
    expect(batches.every((n) => n >= 1 && n <= 5)).toBe(true);
    const per = (id: string) => infos.filter((f) => f.streamId === id).map((f) => f.index);
    const even = (n: number) => Array.from({ length: Math.ceil(n / 2) }, (_, i) => 2 * i);
    expect(per(a)).toEqual(even(23));
    expect(per(b)).toEqual(even(17));
    expect(per(street)).toEqual(even(ffprobeFramesPtsMs(street).length));
    expect(pixelsOk).toBe(true);
  });

  it('errors with the bad file after the good frames', async () => {
    const seen: FrameInfo[] = [];
    const err = await lastValueFrom(
      fileBatch([a, tmp.file('missing.mkv')], { size: 8, maxBatch: 4, concurrency: 1 }).pipe(
        tap((batch) => {
          seen.push(...batch.frames);
          batch.release();
        }),
      ),
    ).catch((e: Error) => e);
    expect((err as Error).name).toBe('VideoSourceError');
    expect((err as Error).message).toContain('missing.mkv');
    expect(seen.length).toBe(23);
  });
});
