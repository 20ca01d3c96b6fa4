import http from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  fetchHlsPlaylist,
  type HlsPlaylist,
  hlsWriterGone,
  isHlsUrl,
  parseHlsPlaylist,
} from '../../src/video/hlsPlaylist.js';

const live = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:8', '#EXT-X-MEDIA-SEQUENCE:5']
  .concat(['#EXTINF:7.6,', 'index5.ts', '#EXTINF:0.4,', 'index6.ts'])
  .join('\n');

describe('parseHlsPlaylist', () => {
  it('reads the target duration, the sequence after the last segment and the end mark', () => {
    expect(parseHlsPlaylist(live)).toEqual({
      targetDurationMs: 8000,
      ended: false,
      nextSequence: 7,
      lastSegment: 'index6.ts',
      variants: [],
    });
    expect(parseHlsPlaylist(`${live}\r\n#EXT-X-ENDLIST\r\n`).ended).toBe(true);
  });

  it('takes the longest segment when the target duration understates it (ffmpeg writes 0 at first)', () => {
    const first = '#EXTM3U\n#EXT-X-TARGETDURATION:0\n#EXTINF:0.400000,\nw0.ts\n';
    expect(parseHlsPlaylist(first).targetDurationMs).toBe(400);
    expect(parseHlsPlaylist(live.replace('TARGETDURATION:8', 'TARGETDURATION:2')).targetDurationMs).toBe(
      7600,
    );
  });

  it('lists the variants of a master playlist; junk gives no target duration, never a throw', () => {
    const master = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nlow/index.m3u8\n';
    expect(parseHlsPlaylist(master).variants).toEqual(['low/index.m3u8']);
    const junk = parseHlsPlaylist('#EXT-X-TARGETDURATION:-3\n#EXT-X-MEDIA-SEQUENCE:x\n\u0000');
    expect(junk.targetDurationMs).toBeUndefined();
  });

  it('knows an HLS URL by its .m3u8 path or a forced hls format', () => {
    expect(isHlsUrl('http://cam/live/index.m3u8?token=1')).toBe(true);
    expect(isHlsUrl('https://cam/live', 'hls')).toBe(true);
    expect(isHlsUrl('http://cam/stream.mjpg')).toBe(false);
    expect(isHlsUrl('rtsp://cam/index.m3u8')).toBe(false);
  });
});

describe('fetchHlsPlaylist', () => {
  it('follows a master playlist to its first variant, and gives up on an oversized body', async () => {
    const server = http.createServer((req, res) => {
      if (req.url === '/master.m3u8') res.end('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/index.m3u8\n');
      else if (req.url === '/v/index.m3u8') res.end(live);
      else res.end(`#EXTM3U\n${'#'.repeat(4096)}\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      expect((await fetchHlsPlaylist(`${base}/master.m3u8`))?.targetDurationMs).toBe(8000);
      expect(await fetchHlsPlaylist(`${base}/big.m3u8`, { maxBytes: 1024 })).toBeUndefined();
      expect(await fetchHlsPlaylist('http://user:pw@127.0.0.1:1/x.m3u8')).toBeUndefined();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('hlsWriterGone', () => {
  const reads = (...lists: (string | undefined)[]) => {
    const queue = [...lists];
    return async (): Promise<HlsPlaylist | undefined> => {
      const text = queue.shift();
      return text === undefined ? undefined : parseHlsPlaylist(text);
    };
  };
  const short = live
    .replace('TARGETDURATION:8', 'TARGETDURATION:0.01')
    .replace(/#EXTINF:[\d.]+/g, '#EXTINF:0.01');
  it('gone when finished, or unchanged a target duration later; not when it grew or cannot be read', async () => {
    expect(await hlsWriterGone('u', reads(`${live}\n#EXT-X-ENDLIST`))).toBe(true);
    expect(await hlsWriterGone('u', reads(short, short))).toBe(true);
    expect(await hlsWriterGone('u', reads(short, `${short}\n#EXTINF:0.01,\nindex7.ts`))).toBe(false);
    expect(await hlsWriterGone('u', reads(undefined))).toBe(false);
    expect(await hlsWriterGone('u', reads(short, undefined))).toBe(false);
  });
});
