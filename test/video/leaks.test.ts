import { firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames } from '../../src/video/decodeFrames.js';
import { sharedPath } from '../helpers/shared.js';
import { ffmpegChildren, TempDir, waitFor } from './media.js';

const tmp = new TempDir();
afterAll(() => tmp.dispose());

const handles = () =>
  (process as unknown as { _getActiveHandles(): unknown[] })
    ._getActiveHandles()
    .filter(
      (h) =>
        (h as { constructor?: { name?: string } })?.constructor?.name === 'ChildProcess' ||
        ((h as { constructor?: { name?: string } })?.constructor?.name === 'Socket' &&
          (h as { _type?: string })._type === 'pipe'),
    ).length;

describe('no ffmpeg outlives its subscription', () => {
  let baseline = 0;
  beforeAll(() => {
    baseline = handles();
  });

  it('after many subscribe/unsubscribe cycles, early completions and failures', async () => {
    const long = sharedPath('media', 'people_at_table_768x432_long.mp4');
    for (let i = 0; i < 12; i++) {
      // unsubscribe right away (before ffmpeg even spawned), mid-stream, and after take()
      decodeFrames(long, { size: 8 }).subscribe().unsubscribe();
      const sub = decodeFrames(long, { size: 8, maxUnreleased: 1 }).subscribe(); // stalls: never releases
      await new Promise((r) => setTimeout(r, 20));
      sub.unsubscribe();
      await firstValueFrom(decodeFrames(long, { size: 8 }).pipe(take(3), toArray()));
      await firstValueFrom(decodeFrames(tmp.file('missing.mp4'), { size: 8 })).catch(() => undefined);
      await firstValueFrom(decodeFrames('http://127.0.0.1:1/x.mp4', { size: 8 })).catch(() => undefined);
    }
    expect(await waitFor(() => ffmpegChildren().length === 0, 10_000)).toBe(true);
    expect(await waitFor(() => handles() <= baseline, 5_000)).toBe(true);
  });

  it('stops an ffmpeg blocked on an endless stdin feed', async () => {
    // ffmpeg waits on a stdin that never ends nor sends; killGraceMs short in case SIGTERM is not enough
    const { PassThrough } = await import('node:stream');
    const feed = new PassThrough();
    const sub = decodeFrames(
      { stream: feed, id: 'stuck', format: 'mjpeg' },
      { size: 8, killGraceMs: 200 },
    ).subscribe({ error: () => {} });
    expect(await waitFor(() => ffmpegChildren().length === 1, 5000)).toBe(true);
    sub.unsubscribe();
    expect(await waitFor(() => ffmpegChildren().length === 0, 5000)).toBe(true);
    feed.destroy();
  });
});
