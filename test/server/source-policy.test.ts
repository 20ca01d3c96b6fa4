import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceRefusedError } from '../../src/errors.js';
import {
  checkApiSource,
  DEFAULT_API_SCHEMES,
  MAX_SOURCE_FILES,
  protocolWhitelist,
  type SourcePolicy,
} from '../../src/server/source-policy.js';
import { inputArgs } from '../../src/video/args.js';
import { resolveFfmpeg } from '../../src/video/ffmpeg.js';
import { resolveSource } from '../../src/video/source.js';
import { ffmpeg } from '../video/media.js';

let tmp: string;
let root: string;
let policy: SourcePolicy;

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-policy-'));
  root = path.join(tmp, 'media');
  mkdirSync(path.join(root, 'frames'), { recursive: true });
  writeFileSync(path.join(root, 'clip.mp4'), 'not really a video');
  for (const n of ['b.png', 'a.png', 'c.jpg']) writeFileSync(path.join(root, 'frames', n), 'x');
  writeFileSync(path.join(tmp, 'secret.png'), 'outside');
  // A link inside the root to a file outside it, and one to the root's own clip.
  symlinkSync(path.join(tmp, 'secret.png'), path.join(root, 'frames', 'leak.png'));
  symlinkSync(path.join(root, 'clip.mp4'), path.join(root, 'alias.mp4'));
  // A sibling folder whose name starts like the root's: not inside it.
  mkdirSync(`${root}2`);
  writeFileSync(`${root}2/clip.mp4`, 'x');
  writeFileSync(path.join(root, 'list.m3u8'), '#EXTM3U\n#EXTINF:1,\n/etc/passwd\n');
  policy = { mediaRoots: [root], allowedSchemes: DEFAULT_API_SCHEMES };
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function refusal(body: unknown, p: SourcePolicy = policy): Promise<string> {
  const e = await checkApiSource(body, p).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SourceRefusedError);
  return (e as Error).message;
}

describe('checkApiSource', () => {
  it('accepts URLs of the allowed schemes', async () => {
    for (const url of ['rtsp://cam.local/live', 'https://example.com/a.m3u8', 'srt://10.0.0.1:9000'])
      expect(await checkApiSource({ url }, policy)).toEqual({ input: url, kind: 'url' });
  });

  it('refuses ffmpeg-special and local schemes, whatever the policy allows', async () => {
    const all = { ...policy, allowedSchemes: [...DEFAULT_API_SCHEMES, 'file', 'concat', 'pipe', 'data'] };
    for (const url of [
      'file:///etc/passwd',
      'concat:/etc/passwd|/etc/shadow',
      'subfile,,start,0,end,10,,:/etc/passwd',
      'pipe:0',
      '-',
      'data:text/plain,hello',
      'async:http://example.com/x',
      'cache:http://example.com/x',
      'crypto+http://example.com/x',
      'udp://0.0.0.0:5000',
      'http:/no-host',
      'rtsp://',
    ])
      expect(await refusal({ url }, all)).toMatch(/refused/);
  });

  it('refuses local paths when the server has no media root', async () => {
    expect(await refusal({ path: path.join(root, 'clip.mp4') }, { ...policy, mediaRoots: [] })).toMatch(
      /no media root/,
    );
  });

  it('gives the same words for a path outside the roots whether or not it exists', async () => {
    const existing = await refusal({ path: '/etc/passwd' });
    const missing = await refusal({ path: '/etc/no-such-file-here' });
    expect(existing.replace('/etc/passwd', 'P')).toBe(missing.replace('/etc/no-such-file-here', 'P'));
    // Inside the root, a missing file says the same as one outside.
    const inRoot = await refusal({ path: path.join(root, 'nothing.mp4') });
    expect(inRoot.replace(path.join(root, 'nothing.mp4'), 'P')).toBe(existing.replace('/etc/passwd', 'P'));
  });

  it('refuses -, pipe:, devices, /proc, escapes with .., sibling folders and playlists', async () => {
    for (const p of [
      '-',
      'pipe:0',
      'pipe:',
      '/dev/zero',
      '/dev/video0',
      '/proc/self/environ',
      path.join(root, '..', 'secret.png'),
      '../secret.png',
      `${root}2/clip.mp4`,
      path.join(root, 'list.m3u8'),
      `concat:${path.join(root, 'clip.mp4')}`,
    ])
      expect(await refusal({ path: p }), p).toMatch(/not a file, folder or glob under a media root/);
    // Even with / as a root, devices stay out.
    expect(await refusal({ path: '/dev/zero' }, { ...policy, mediaRoots: ['/'] })).toMatch(/refused/);
  });

  it('resolves symlinks before the check: a link out of the root is refused, one inside is followed', async () => {
    expect(await refusal({ path: path.join(root, 'frames', 'leak.png') })).toMatch(/refused/);
    expect(await checkApiSource({ path: path.join(root, 'alias.mp4') }, policy)).toEqual({
      input: path.join(root, 'clip.mp4'),
      kind: 'file',
    });
    expect(await checkApiSource({ path: 'clip.mp4' }, policy)).toEqual({
      input: path.join(root, 'clip.mp4'),
      kind: 'file',
    });
  });

  it('lists a folder and a glob itself, each match checked (the link out of the root is left out)', async () => {
    const folder = await checkApiSource({ path: path.join(root, 'frames') }, policy);
    expect(folder.kind).toBe('folder');
    expect(folder.inputs).toEqual(['a.png', 'b.png', 'c.jpg'].map((n) => path.join(root, 'frames', n)));
    // A playlist matched by a glob is left out like one named directly.
    writeFileSync(path.join(root, 'frames', 'd.png'), '#EXTM3U\nfile:///etc/passwd\n');
    const glob = await checkApiSource({ path: path.join(root, 'frames', '*.png') }, policy);
    expect(glob.kind).toBe('glob');
    expect(glob.inputs).toEqual(['a.png', 'b.png'].map((n) => path.join(root, 'frames', n)));
    // Wildcards above the file name, or a glob's folder outside the root: refused alike.
    expect(await refusal({ path: path.join(root, '*', '*.png') })).toMatch(/refused/);
    expect(await refusal({ path: path.join(tmp, '*.png') })).toMatch(/refused/);
  });

  it(`refuses a glob of more than ${MAX_SOURCE_FILES} files`, async () => {
    const many = path.join(root, 'many');
    mkdirSync(many);
    for (let i = 0; i <= MAX_SOURCE_FILES; i++) writeFileSync(path.join(many, `${i}.png`), '');
    expect(await refusal({ path: path.join(many, '*.png') })).toMatch(/more than 10000 files/);
    rmSync(many, { recursive: true });
  });

  it('refuses malformed bodies with a short message', async () => {
    for (const body of [null, 'x', [], {}, { url: 'rtsp://a/b', path: '/x' }, { url: 5 }, { path: '' }])
      expect(await refusal(body)).toMatch(/^source: /);
    expect(await refusal({ path: 'a\nb' })).toMatch(/control characters/);
    expect((await refusal({ path: 'x'.repeat(60_000) })).length).toBeLessThan(300);
    expect((await refusal({ path: `/${'y'.repeat(4000)}` })).length).toBeLessThan(400);
  });
});

describe('protocolWhitelist', () => {
  it('gives each source only the protocols it needs', () => {
    expect(protocolWhitelist('file', '/media/clip.mp4')).toBe('file');
    expect(protocolWhitelist('images', '/media/*.png')).toBe('file');
    expect(protocolWhitelist('url', 'rtsp://cam/live')).toBe('rtsp,rtp,udp,tcp');
    expect(protocolWhitelist('url', 'https://host/live.m3u8')).toBe('https,http,tls,tcp,crypto');
    expect(protocolWhitelist('stdin', 'pipe:0')).toBe('pipe');
    for (const url of ['rtsp://c/l', 'http://h/x', 'https://h/x', 'rtmp://h/x', 'srt://h:1', 'weird://h'])
      expect(protocolWhitelist('url', url)).not.toMatch(/(^|,)file(,|$)/);
  });

  describe('with real ffmpeg: HLS playlists on loopback that lists a local file', () => {
    let server: Server;
    let base: string;
    let segment: string;
    beforeAll(async () => {
      segment = path.join(tmp, 'local-segment.ts');
      ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=5:duration=1', '-c:v', 'mpeg2video', segment]);
      const playlist = (uri: string) =>
        `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n${uri}\n#EXT-X-ENDLIST\n`;
      const bodies: Record<string, string> = {
        '/file.m3u8': playlist(`file://${segment}`),
      };
      server = createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/vnd.apple.mpegurl' });
        res.end(bodies[req.url ?? ''] ?? '');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    // Asynchronous: the playlists' server runs in this process.
    const decode = (args: string[]) =>
      new Promise<{ status: number; stderr: string }>((resolve) =>
        execFile(
          'ffmpeg',
          ['-hide_banner', '-nostdin', ...args, '-frames:v', '3', '-f', 'null', '-'],
          { encoding: 'utf8' },
          (e, _out, stderr) => resolve({ status: e ? Number(e.code ?? 1) : 0, stderr }),
        ),
      );
    const vitstreamArgs = async (url: string) => {
      const args = await inputArgs(resolveSource({ url }), await resolveFfmpeg());
      expect(args).toContain('-protocol_whitelist');
      return args;
    };

    // ffmpeg 5's own default for an http parent already leaves out file (not data, udp or rtp); the
    // message shows that vitstream's narrower list is the one in force.
    it("refuses the playlist's file: segment: 'file' is not on the whitelist", async () => {
      const r = await decode(await vitstreamArgs(`${base}/file.m3u8`));
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/Protocol 'file' not on whitelist 'http,https,tcp,tls,crypto'/);
    });
  });
});
