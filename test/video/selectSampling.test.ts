import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleFrames } from '../../src/operators/sampleFrames.js';
import { decodeArgs } from '../../src/video/args.js';
import { decodeFrames } from '../../src/video/decodeFrames.js';
import { resolveFfmpeg } from '../../src/video/ffmpeg.js';
import type { SkippedFrame } from '../../src/video/frame.js';
import { FrameSampler, type SampleOptions, selectExpression } from '../../src/video/frameSampler.js';
import { resolveSource } from '../../src/video/source.js';
import { sharedPath } from '../helpers/shared.js';
import { ffmpeg, makeClip, TempDir, waitFor } from './media.js';
import { startMjpegServer } from './mjpegServer.js';

// Live feeds at --fps 2 from 30 fps cameras: ffmpeg's select drops the unwanted frames before
// scaling and piping them (issue #21), by FrameSampler's rule written as a select expression.

const tmp = new TempDir();
let jump: string;
let jumpMkv: string;
let clip: string;
const REAL = sharedPath('media/parking_cars_768x432.mp4');

beforeAll(() => {
  clip = makeClip(tmp.file('clip.mp4'), { frames: 90, rate: 30, size: '64x48' });
  // A hostile stream: timestamps that jitter and cluster (VFR), then a camera restart that sends
  // them 2 s back (two MPEG-TS segments back to back), then 25 fps.
  const a = tmp.file('a.ts');
  const b = tmp.file('b.ts');
  const ts = ['-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-f', 'mpegts'];
  ffmpeg([
    ...['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=30', '-t', '3'],
    ...['-vf', "setpts='N*(1/30+0.004*mod(N,3))/TB'", '-fps_mode', 'passthrough'],
    ...[...ts, '-output_ts_offset', '10', a],
  ]);
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=64x48:rate=25',
    '-t',
    '2',
    ...ts,
    '-output_ts_offset',
    '11',
    b,
  ]);
  jump = tmp.file('jump.ts');
  writeFileSync(jump, Buffer.concat([readFileSync(a), readFileSync(b)]));
  // The same in Matroska's millisecond time base: frames under 1 ms apart share a pts.
  jumpMkv = tmp.file('jump.mkv');
  ffmpeg(['-i', jump, '-c', 'copy', jumpMkv]);
});
afterAll(() => tmp.dispose());

/** ffmpeg's own run of the tap, the select and the output showinfo: every decoded and every kept pts. */
function runSelect(file: string, expression: string): { decoded: number[]; kept: number[] } {
  const r = spawnSync(
    'ffmpeg',
    [
      ...[
        '-hide_banner',
        '-nostats',
        '-loglevel',
        'level+info',
        '-i',
        file,
        '-an',
        '-fps_mode',
        'passthrough',
      ],
      ...['-vf', `showinfo=checksum=0,select='${expression}',scale=16:16,showinfo=checksum=0`],
      ...['-f', 'rawvideo', '-y', '/dev/null'],
    ],
    { encoding: 'utf8', maxBuffer: 1 << 28 },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  const tb = /config in time_base: (\d+)\/(\d+)/.exec(r.stderr)!;
  const lines = r.stderr.split('\n').filter((l) => /^\[Parsed_showinfo_\d+ .*\] n:/.test(l));
  const ms = (l: string) => (Number(/ pts:\s*(-?\d+)/.exec(l)![1]) * Number(tb[1]) * 1000) / Number(tb[2]);
  return {
    decoded: lines.filter((l) => l.startsWith('[Parsed_showinfo_0 ')).map(ms),
    kept: lines.filter((l) => !l.startsWith('[Parsed_showinfo_0 ')).map(ms),
  };
}

const OPTIONS: SampleOptions[] = [
  { fps: 2 },
  { fps: 0.3 },
  { fps: 7 },
  { fps: 10 },
  { fps: 29.97 },
  { fps: 1000 },
  { every: 1 },
  { every: 3 },
  { every: 15 },
];

describe('ffmpeg select by FrameSampler rule', () => {
  for (const [name, file] of [
    ['a real clip', () => REAL],
    ['VFR with a restart', () => jump],
  ] as const)
    it(`keeps exactly the frames FrameSampler keeps: ${name}`, () => {
      for (const options of OPTIONS) {
        const { decoded, kept } = runSelect(file(), selectExpression(options));
        const sampler = new FrameSampler(options);
        const want = decoded.filter((ptsMs, index) => sampler.keep({ streamId: 's', index, ptsMs }));
        expect(kept, JSON.stringify(options)).toEqual(want);
        expect(kept.length).toBeLessThanOrEqual(decoded.length);
      }
      // The hostile stream has frames under 1 ms apart (ffmpeg mends its jump back itself), and the
      // real one is 30 fps for 10 s or more.
      const { decoded } = runSelect(file(), '1');
      if (file() === jump) expect(decoded.some((t, i) => i > 0 && t - decoded[i - 1]! < 1)).toBe(true);
      else expect(decoded.length).toBeGreaterThan(250);
    });
});

describe('decodeFrames with sample: ffmpeg leaves the frames out', () => {
  it('runs a tap and the select before any scaling, on the CPU path of ffmpeg 5 and later', async () => {
    const ff = await resolveFfmpeg();
    const args = await decodeArgs(resolveSource(clip), ff, {
      size: { width: 8, height: 8 },
      resize: 'squash',
      select: selectExpression({ fps: 2 }),
    });
    const vf = args[args.indexOf('-vf') + 1]!;
    expect(vf.startsWith(`showinfo=checksum=0,select='${selectExpression({ fps: 2 })}',scale=8:8`)).toBe(
      true,
    );
  });

  for (const [name, file] of [
    ['a real clip', () => REAL],
    ['VFR with a restart', () => jump],
    ['VFR with a restart, frames that share a pts', () => jumpMkv],
  ] as const)
    for (const options of [{ fps: 2 }, { every: 7 }] as SampleOptions[])
      it(`gives the frames, indices, times and pixels of sampling in Node: ${name}, ${JSON.stringify(options)}`, async () => {
        const size = { width: 24, height: 16 };
        const skipped: SkippedFrame[] = [];
        let decodedCount = 0;
        const inFfmpeg = await lastValueFrom(
          decodeFrames(file(), {
            size,
            sample: options,
            onSkip: (f) => skipped.push({ ...f }),
            onDecoded: () => decodedCount++,
          }).pipe(toArray()),
        );
        const all = await lastValueFrom(decodeFrames(file(), { size }).pipe(toArray()));
        const inNode = await lastValueFrom(
          decodeFrames(file(), { size }).pipe(sampleFrames(options), toArray()),
        );
        const view = (fs: typeof all) =>
          fs.map((f) => [f.index, f.ptsMs, Buffer.from(f.rgb).toString('base64')]);
        expect(view(inFfmpeg)).toEqual(view(inNode));
        expect(inFfmpeg.length).toBeGreaterThan(1);
        // Every decoded frame is either delivered or told of as skipped, once, with its own time.
        expect(decodedCount).toBe(all.length);
        const kept = new Set(inFfmpeg.map((f) => f.index));
        expect(skipped.map((f) => f.index)).toEqual(all.map((f) => f.index).filter((i) => !kept.has(i)));
        for (const s of skipped) expect(s.ptsMs).toBeCloseTo(all[s.index]!.ptsMs, 6);
      });
});

describe('decodeFrames with sample: image folders', () => {
  it('an image left out by the sampling is not named as one that could not be decoded', async () => {
    const dir = tmp.file('imgs');
    mkdirSync(dir);
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=5', '-frames:v', '5', `${dir}/img-%02d.png`]);
    writeFileSync(`${dir}/img-02.png`, 'not a png');
    const files: (string | undefined)[] = [];
    const error = await new Promise<Error | undefined>((resolve) =>
      decodeFrames(dir, { size: 16, sample: { every: 2 } }).subscribe({
        next: (f) => {
          files.push(f.file);
          f.release?.();
        },
        error: resolve,
        complete: () => resolve(undefined),
      }),
    );
    // Decoded: 01, 03, 04, 05 (02 is broken); every second of those is kept.
    expect(files).toEqual([`${dir}/img-01.png`, `${dir}/img-04.png`]);
    expect(error?.message).toBe(`video source ${dir}: 1 of 5 images could not be decoded: ${dir}/img-02.png`);
  });
});

describe('decodeFrames with sample: frames without a pts', () => {
  it('every: keeps every Nth decoded frame, by its decoded index', async () => {
    // Raw MJPEG read without filling in timestamps: every frame after the first has none (NOPTS),
    // as from cameras that send none.
    const mjpeg = tmp.file('raw.mjpeg');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=10', '-frames:v', '30', '-f', 'mjpeg', mjpeg]);
    const skipped: number[] = [];
    let decodedCount = 0;
    const frames = await lastValueFrom(
      decodeFrames(
        { path: mjpeg, inputArgs: ['-fflags', '+nofillin'] },
        {
          size: 8,
          sample: { every: 7 },
          onSkip: (f) => skipped.push(f.index),
          onDecoded: () => decodedCount++,
        },
      ).pipe(toArray()),
    );
    expect(decodedCount).toBe(30);
    expect(frames.map((f) => f.index)).toEqual([0, 7, 14, 21, 28]);
    expect(skipped.sort((a, b) => a - b)).toEqual([...Array(30).keys()].filter((i) => i % 7 !== 0));
  });
});

describe('decodeFrames with sample: a kept frame comes without waiting for the next one', {
  timeout: 120_000,
}, () => {
  it('a camera that sends 20 frames then nothing: the one frame kept of them still arrives', async () => {
    // ffmpeg's rawvideo encoder, frame-threaded by default, gives a packet back when the next frame
    // goes in: with the frames between kept ones left out, that is the next kept one (here: never).
    const cam = await startMjpegServer(tmp.dir, { stopAfterFrames: 20 });
    const indices: number[] = [];
    let decodedCount = 0;
    // A read timeout longer than the wait: ffmpeg's exit would hand the frame over too.
    const sub = decodeFrames(
      { url: cam.url, timeoutMs: 120_000 },
      { size: 16, sample: { every: 1000 }, onDecoded: () => decodedCount++ },
    ).subscribe((f) => {
      indices.push(f.index);
      f.release?.();
    });
    try {
      expect(await waitFor(() => decodedCount >= 20, 60_000)).toBe(true);
      expect(await waitFor(() => indices.length >= 1, 30_000)).toBe(true);
      expect(indices).toEqual([0]);
    } finally {
      sub.unsubscribe();
      await cam.close();
    }
  });
});

describe('decodeFrames: frames that share a pts', () => {
  it('decode whole under strict mode: the rawvideo muxer complains of their timestamps, and writes them', async () => {
    const frames = await lastValueFrom(decodeFrames(jumpMkv, { size: 8 }).pipe(toArray()));
    const pts = frames.map((f) => f.ptsMs);
    expect(pts.some((t, i) => i > 0 && t === pts[i - 1])).toBe(true);
    expect(frames.map((f) => f.index)).toEqual([...pts.keys()]);
  });
});
