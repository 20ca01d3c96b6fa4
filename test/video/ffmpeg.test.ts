import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeArgs } from '../../src/video/args.js';
import { passthroughArgs, resolveFfmpeg } from '../../src/video/ffmpeg.js';
import { detectKind, resolveSource } from '../../src/video/source.js';
import { ensureBuilt, repoRoot } from '../helpers/cli.js';

describe('resolveFfmpeg', () => {
  it('finds the system ffmpeg and its version', async () => {
    const ff = await resolveFfmpeg({ env: { PATH: process.env.PATH } });
    expect(['PATH', 'ffmpeg-static']).toContain(ff.from);
    expect(ff.major).toBeGreaterThanOrEqual(4);
    expect(passthroughArgs(ff).slice(0, 2)).toHaveLength(2);
  });

  it('a binary that cannot start leaves no timer behind to keep the process alive (ffmpeg-static without its download)', () => {
    // The compiled module in a child of its own: its resources are only its own.
    ensureBuilt();
    const script = `import { probeVersion } from ${JSON.stringify(path.join(repoRoot, 'dist/src/video/ffmpeg.js'))};
await probeVersion('/nonexistent/ffmpeg').then(() => { throw new Error('resolved'); }, () => {});
console.log(JSON.stringify(process.getActiveResourcesInfo()));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).not.toContain('Timeout');
  });

  it('rejects a broken FFMPEG_PATH by name', async () => {
    const err = await resolveFfmpeg({
      env: { FFMPEG_PATH: '/nonexistent/ffmpeg', PATH: process.env.PATH },
    }).catch((e: Error) => e);
    expect((err as Error).name).toBe('FfmpegNotFoundError');
    expect((err as Error).message).toContain('/nonexistent/ffmpeg');
  });

  it('names all three places when nothing is found', async () => {
    const err = await resolveFfmpeg({ env: { FFMPEG_PATH: '', PATH: '/nonexistent' } }).catch(
      (e: Error) => e,
    );
    // ffmpeg-static is optional; where installed, it is found and this case cannot fail
    const staticInstalled = await import('ffmpeg-static' as string).then(
      () => true,
      () => false,
    );
    if (!staticInstalled) {
      expect((err as Error).name).toBe('FfmpegNotFoundError');
      expect((err as Error).message).toMatch(/FFMPEG_PATH.*ffmpeg-static.*PATH/s);
    }
  });
});

describe('source kinds', () => {
  it('detects the kind and live-ness from the string', () => {
    expect(detectKind('/dev/video0')).toBe('device');
    expect(detectKind('rtsp://cam/stream')).toBe('url');
    expect(detectKind('-')).toBe('stdin');
    expect(detectKind('frames/*.jpg')).toBe('images');
    expect(detectKind('clip.mkv')).toBe('file');
    expect(resolveSource('rtsp://cam/stream').live).toBe(true);
    expect(resolveSource('https://host/live.m3u8').live).toBe(true);
    expect(resolveSource('https://host/clip.mp4').live).toBe(false);
    expect(resolveSource({ path: 'clip.mp4', realtime: true }).live).toBe(true);
    expect(resolveSource('clip.mp4').live).toBe(false);
    expect(resolveSource({ url: 'http://x/y.mjpg', id: 'door' }).id).toBe('door');
  });
});

/** An ffmpeg handle as resolveFfmpeg returns it, for a version that is not installed here. */
const handle = (version: string, major: number, minor: number) => ({
  path: 'ffmpeg',
  from: 'PATH' as const,
  version,
  major,
  minor,
});

describe('passthroughArgs', () => {
  it('uses -fps_mode from 5.1 on and -vsync before, and for git builds with no version number', () => {
    expect(passthroughArgs(handle('5.1.9', 5, 1))).toEqual([
      '-fps_mode',
      'passthrough',
      '-enc_time_base',
      '-1',
    ]);
    expect(passthroughArgs(handle('5.0', 5, 0))).toEqual(['-vsync', 'passthrough', '-enc_time_base', '-1']);
    expect(passthroughArgs(handle('7.0', 7, 0))).toEqual([
      '-fps_mode',
      'passthrough',
      '-enc_time_base',
      'demux',
    ]);
    expect(passthroughArgs(handle('4.4.2', 4, 4))).toEqual(['-vsync', 'passthrough']);
    // ffmpeg-static ships "N-47683-g0e8eb07980-static" (2018), which has no -fps_mode.
    expect(passthroughArgs(handle('N-47683-g0e8eb07980-static', 0, 0))).toEqual(['-vsync', 'passthrough']);
  });
});

describe('decodeArgs: showinfo without checksums where ffmpeg has the option', () => {
  const filter = async (major: number, version: string) => {
    const args = await decodeArgs(
      { kind: 'stdin', input: '-', live: false, id: 'in' },
      handle(version, major, 0),
      {
        size: { width: 8, height: 8 },
        resize: 'squash',
      },
    );
    return args[args.indexOf('-vf') + 1];
  };
  it('ffmpeg 5 and later skip the sums; 4.x and versionless git builds (ffmpeg-static 2018) get plain showinfo', async () => {
    expect(await filter(5, '5.1.9')).toMatch(/,showinfo=checksum=0$/);
    expect(await filter(7, '7.0')).toMatch(/,showinfo=checksum=0$/);
    expect(await filter(4, '4.4.2')).toMatch(/,showinfo$/);
    expect(await filter(0, 'N-47683-g0e8eb07980-static')).toMatch(/,showinfo$/);
  });
});
