import { chmodSync, writeFileSync } from 'node:fs';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { yuvToRgbBytes } from '../../src/engine/yuv.js';
import { decodeArgs, frameBytes, PIXEL_FORMATS, RESIZE_MODES } from '../../src/video/args.js';
import { decodeFrames } from '../../src/video/decodeFrames.js';
import type { SourceEvent } from '../../src/video/events.js';
import { type FfmpegHandle, resolveFfmpeg } from '../../src/video/ffmpeg.js';
import type { Frame } from '../../src/video/frame.js';
import { isNvdecFailure, nvdecSupport } from '../../src/video/hwaccel.js';
import { resolveSource } from '../../src/video/source.js';
import { streamColor } from '../../src/video/stderrLog.js';
import { makeClip, TempDir } from './media.js';

const tmp = new TempDir();
let clip: string;
let hd709: string;
let nvdec = false;

beforeAll(async () => {
  clip = makeClip(tmp.file('a.mp4'), { size: '160x120', frames: 12 });
  hd709 = makeClip(tmp.file('hd.mp4'), {
    size: '190x110',
    frames: 6,
    extra: ['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709'],
  });
  nvdec = (await nvdecSupport(await resolveFfmpeg())).available;
}, 60_000);
afterAll(() => tmp.dispose());

const ff5: FfmpegHandle = { path: 'ffmpeg', from: 'PATH', version: '5.1.9', major: 5, minor: 1 };

const frames = (obs: ReturnType<typeof decodeFrames>) =>
  lastValueFrom(obs.pipe(toArray())).then((fs) =>
    fs.map((f) => ({ ...f, rgb: Uint8Array.from(f.rgb) }) as Frame),
  );

describe('decodeArgs: hwaccel x resize x pixel format', () => {
  for (const path of ['none', 'cuda'] as const)
    for (const resize of RESIZE_MODES)
      for (const pixelFormat of PIXEL_FORMATS)
        it(`${path} ${resize} ${pixelFormat}`, async () => {
          const args = await decodeArgs(resolveSource(clip), ff5, {
            size: { width: 224, height: 224 },
            resize,
            path,
            pixelFormat,
          });
          const at = (flag: string) => args.indexOf(flag);
          const vf = args[at('-vf') + 1] as string;
          expect(args[at('-pix_fmt') + 1]).toBe(pixelFormat === 'nv12' ? 'nv12' : 'rgb24');
          expect(vf.endsWith('showinfo=checksum=0')).toBe(true);
          if (path === 'cuda') {
            // Decoder options go before -i; the chain starts on the GPU and downloads NV12 of about model size.
            expect(at('-hwaccel')).toBeLessThan(at('-i'));
            expect(args[at('-hwaccel') + 1]).toBe('cuda');
            expect(args[at('-hwaccel_output_format') + 1]).toBe('cuda');
            expect(vf).toMatch(
              /^scale_cuda=224:224:interp_algo=bilinear:format=nv12[^,]*,hwdownload,format=nv12/,
            );
            expect(vf).not.toMatch(/(^|,)scale=/);
          } else {
            expect(at('-hwaccel')).toBe(-1);
            expect(vf).toMatch(/^scale=224:224/);
            expect(vf).not.toMatch(/cuda|hwdownload/);
          }
          if (resize === 'center-crop')
            expect(vf).toMatch(/force_original_aspect_ratio=increase.*,crop=224:224/);
          if (resize === 'letterbox')
            expect(vf).toMatch(/force_original_aspect_ratio=decrease.*,pad=224:224/);
          if (resize === 'squash') expect(vf).not.toMatch(/force_original_aspect_ratio|crop|pad=/);
          if (pixelFormat === 'rgb') expect(vf).toMatch(/format=rgb24,showinfo/);
          else expect(vf).toMatch(/format=nv12(,crop=224:224|,pad=[^,]*)?,showinfo/);
        });

  it('keyframes only: -skip_frame nokey before -i, with either path', async () => {
    for (const path of ['none', 'cuda'] as const) {
      const args = await decodeArgs(resolveSource(clip), ff5, {
        size: { width: 224, height: 224 },
        resize: 'squash',
        path,
        keyframesOnly: true,
      });
      expect(args[args.indexOf('-skip_frame') + 1]).toBe('nokey');
      expect(args.indexOf('-skip_frame')).toBeLessThan(args.indexOf('-i'));
    }
  });

  it('NV12 frame bytes: S*S + 2*ceil(S/2)^2', () => {
    expect(frameBytes({ width: 224, height: 224 }, 'nv12')).toBe(224 * 224 + 2 * 112 * 112);
    expect(frameBytes({ width: 5, height: 5 }, 'nv12')).toBe(25 + 2 * 9);
    expect(frameBytes({ width: 5, height: 3 }, 'rgb')).toBe(45);
  });
});

describe('NVDEC failures and stream colour, from ffmpeg messages', () => {
  it('tells NVDEC failures from bad input', () => {
    expect(isNvdecFailure(['Cannot load libcuda.so.1', 'Could not dynamically load CUDA'])).toBe(true);
    expect(isNvdecFailure(['[h264 @ 0x1] No device available for decoder: device type cuda needed'])).toBe(
      true,
    );
    expect(isNvdecFailure(['Hardware is lacking required capabilities'])).toBe(true);
    expect(isNvdecFailure(['moov atom not found', 'Invalid data found when processing input'])).toBe(false);
  });

  it('reads matrix and range from the input stream line', () => {
    const line = (v: string) =>
      `[info]   Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), ${v}, 1920x1080 [SAR 1:1 DAR 16:9], 25 fps`;
    expect(streamColor(line('yuv420p(tv, bt709, progressive)'))).toEqual({
      matrix: 'bt709',
      range: 'limited',
    });
    expect(streamColor(line('yuv420p(tv, bt709/bt709/bt709, progressive)'))).toEqual({
      matrix: 'bt709',
      range: 'limited',
    });
    expect(streamColor(line('yuv420p(pc, bt470bg/unknown/unknown)'))).toEqual({
      matrix: 'bt601',
      range: 'full',
    });
    expect(streamColor(line('yuvj420p(progressive)'))).toEqual({ matrix: 'bt601', range: 'full' });
    expect(streamColor(line('yuv420p'))).toEqual({ matrix: 'bt601', range: 'limited' });
  });
});

describe('decode paths on this machine', () => {
  it.skipIf(nvdec)(
    "'auto' without a working NVDEC decodes on the CPU, bytes identical to 'none'",
    async () => {
      const events: SourceEvent[] = [];
      const none = await frames(decodeFrames(clip, { size: 64, hwaccel: 'none' }));
      const auto = await frames(
        decodeFrames(clip, { size: 64, hwaccel: 'auto', onEvent: (e) => events.push(e) }),
      );
      expect(auto.length).toBe(12);
      expect(auto.map((f) => f.ptsMs)).toEqual(none.map((f) => f.ptsMs));
      for (const [i, f] of auto.entries()) expect(Buffer.compare(f.rgb, none[i]!.rgb)).toBe(0);
      expect(events.filter((e) => e.type === 'error')).toEqual([]);
    },
  );

  it.skipIf(nvdec)("'cuda' without a working NVDEC fails with one clear line", async () => {
    const err = await lastValueFrom(decodeFrames(clip, { size: 64, hwaccel: 'cuda' })).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /^video source .*a\.mp4: NVDEC decoding \(hwaccel 'cuda'\) failed: .*'auto'/,
    );
    expect((err as Error).message).not.toMatch(/\n/);
  });

  it('rejects unknown hwaccel and pixel format values', async () => {
    for (const bad of [{ hwaccel: 'nvdec' }, { pixelFormat: 'rgba' }]) {
      const err = await lastValueFrom(decodeFrames(clip, { size: 64, ...(bad as object) })).catch(
        (e: Error) => e,
      );
      expect((err as Error).message).toMatch(/hwaccel must be|pixelFormat must be/);
    }
  });
});

describe('NV12 frames', () => {
  for (const [name, file, matrix] of [
    ['untagged SD', () => clip, 'bt601'],
    ['BT.709-tagged', () => hd709, 'bt709'],
  ] as const)
    it(`${name}: carry the stream's colour and convert (engine CPU reference) to the RGB decode's pixels`, async () => {
      // Even, as model sizes are: at odd sizes swscale places the last chroma column otherwise
      // than the reference's x >> 1 (mean difference ~11 on testsrc2's sharp colour edges).
      const S = 64;
      const rgb = await frames(decodeFrames(file(), { size: S }));
      const nv12 = await frames(decodeFrames(file(), { size: S, pixelFormat: 'nv12' }));
      expect(nv12.length).toBe(rgb.length);
      let sum = 0;
      let n = 0;
      for (const [i, f] of nv12.entries()) {
        expect(f.pixelFormat).toBe('nv12');
        expect(f.color).toEqual({ matrix, range: 'limited' });
        expect(f.rgb.byteLength).toBe(S * S + 2 * 32 * 32);
        expect(f.ptsMs).toBe(rgb[i]!.ptsMs);
        const back = yuvToRgbBytes(f.rgb, 'nv12', S, S, f.color!);
        const ref = rgb[i]!.rgb;
        for (let k = 0; k < ref.length; k++) sum += Math.abs(back[k]! - ref[k]!);
        n += ref.length;
      }
      // Chroma is upsampled differently (swscale's filter against the reference's), edges differ most.
      expect(sum / n).toBeLessThan(4);
    });

  it('odd sizes: Y then UV rounded up, one frame per frame', async () => {
    const fs = await frames(decodeFrames(clip, { size: { width: 63, height: 33 }, pixelFormat: 'nv12' }));
    expect(fs.length).toBe(12);
    for (const f of fs) expect(f.rgb.byteLength).toBe(63 * 33 + 2 * 32 * 17);
  });

  it('image folders and globs stay RGB', async () => {
    const dir = tmp.file('imgs');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    makeClip(`${dir}/%03d.png`, { frames: 2, codec: [] });
    const fs = await frames(decodeFrames(dir, { size: 32, pixelFormat: 'nv12' }));
    expect(fs.length).toBe(2);
    expect(fs[0]!.pixelFormat).toBeUndefined();
    expect(fs[0]!.rgb.byteLength).toBe(32 * 32 * 3);
  });
});

describe("'auto' when NVDEC works but refuses a stream", () => {
  // An ffmpeg whose NVDEC passes the probe but refuses real streams, as it does 4:4:4 or a codec it lacks.
  const fakeFfmpeg = (): FfmpegHandle => {
    const bin = tmp.file('ffmpeg-nvdec-refuses');
    writeFileSync(
      bin,
      `#!/bin/sh
for a in "$@"; do case "$a" in data:video/h264*) exit 0;; esac; done
if [ "$2" = "-hwaccels" ]; then printf 'Hardware acceleration methods:\\ncuda\\n\\n'; exit 0; fi
for a in "$@"; do if [ "$a" = "-hwaccel" ]; then
  echo "[h264 @ 0x55d0] [error] Hardware is lacking required capabilities" >&2
  echo "[error] Error while decoding stream #0:0: Function not implemented" >&2
  exit 1
fi; done
exec ffmpeg "$@"
`,
    );
    chmodSync(bin, 0o755);
    return { ...ff5, path: bin };
  };

  it('goes on on the CPU with one warning event: every frame, bytes as with none', async () => {
    const ff = fakeFfmpeg();
    expect((await nvdecSupport(ff)).available).toBe(true);
    const events: SourceEvent[] = [];
    const got = await frames(
      decodeFrames(clip, {
        size: 48,
        hwaccel: 'auto',
        ffmpeg: ff,
        pixelFormat: 'nv12',
        onEvent: (e) => events.push(e),
      }),
    );
    const none = await frames(decodeFrames(clip, { size: 48, hwaccel: 'none', pixelFormat: 'nv12' }));
    expect(got.length).toBe(12);
    for (const [i, f] of got.entries()) expect(Buffer.compare(f.rgb, none[i]!.rgb)).toBe(0);
    const warnings = events.filter((e) => e.type === 'warning');
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatchObject({
      message: expect.stringMatching(/NVDEC cannot decode .*lacking.*CPU/),
    });
    expect(events.filter((e) => e.type === 'started').map((e) => (e as { attempt: number }).attempt)).toEqual(
      [0, 1],
    );
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
  });

  it("'cuda' fails instead, naming NVDEC and the way out", async () => {
    const err = await lastValueFrom(
      decodeFrames(clip, { size: 48, hwaccel: 'cuda', ffmpeg: fakeFfmpeg() }),
    ).catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      /NVDEC decoding \(hwaccel 'cuda'\) failed: .*lacking required capabilities.*'auto'/,
    );
  });
});
