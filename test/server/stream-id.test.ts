import { describe, expect, it } from 'vitest';
import { parseServeConfig, parseStreamRequest } from '../../src/serve-config.js';
import { deriveStreamId, isStreamId, streamIdProblem } from '../../src/server/stream-id.js';

describe('stream ids: one rule for HTTP, WebSocket and the config file', () => {
  it('takes 1-128 characters of letters, digits and _ . : @ / -', () => {
    for (const id of ['cam1', 'door.left', 'rtsp://cam/live', 'a_b-c:d@e', 'x'.repeat(128)])
      expect(isStreamId(id)).toBe(true);
    for (const id of ['', 'x'.repeat(129), 'bad id', 'a*b', '*', 'é', 'a\nb', 'a?b', 42, null])
      expect(isStreamId(id)).toBe(false);
  });

  it('names a 60 000-character id in a short line', () => {
    const problem = streamIdProblem('x'.repeat(60_000))!;
    expect(problem).toMatch(/60000 characters/);
    expect(problem.length).toBeLessThan(300);
  });

  it('derives ids from URLs and paths without credentials, within the rule', () => {
    expect(deriveStreamId('rtsp://admin:campass@10.0.0.1:554/live')).toBe('rtsp://10.0.0.1:554/live');
    expect(deriveStreamId('/videos/My Clip (1).mp4')).toBe('/videos/My_Clip__1_.mp4');
    const long = deriveStreamId(`/data/${'d'.repeat(300)}/clip.mp4`);
    expect(long).toHaveLength(128);
    expect(long.endsWith('/clip.mp4')).toBe(true);
    for (const s of ['rtsp://u:p@h/x?a=1&b=2', '/tmp/é.mp4', '-'])
      expect(isStreamId(deriveStreamId(s))).toBe(true);
  });

  it('is the config file rule too', () => {
    expect(() => parseServeConfig({ streams: [{ id: 'x'.repeat(60_000), url: 'rtsp://cam/live' }] })).toThrow(
      /streams\.0\.id: 1-128 characters/,
    );
    expect(parseServeConfig({ streams: [{ id: 'cam.1', url: 'rtsp://cam/live' }] }).streams[0]!.id).toBe(
      'cam.1',
    );
  });
});

describe('serve config: safety keys', () => {
  it('defaults to 64 streams and 100 retries, and takes "forever"', () => {
    const c = parseServeConfig({ streams: [] });
    expect(c.server.maxStreams).toBe(64);
    expect(c.reconnect.maxRetries).toBe(100);
    expect(parseServeConfig({ streams: [], reconnect: { maxRetries: 'forever' } }).reconnect.maxRetries).toBe(
      'forever',
    );
    expect(() => parseServeConfig({ streams: [], reconnect: { maxRetries: 'always' } })).toThrow(
      /maxRetries/,
    );
    const s = parseServeConfig({
      streams: [],
      server: {
        mediaRoots: ['/srv/media'],
        allowedOrigins: ['https://a.example'],
        allowedHosts: ['cams.lan'],
      },
    }).server;
    expect(s).toMatchObject({
      mediaRoots: ['/srv/media'],
      allowedOrigins: ['https://a.example'],
      allowedHosts: ['cams.lan'],
    });
  });

  it('takes origins as browsers send them, refusing a bare host or a path', () => {
    const origins = (o: string[]) =>
      parseServeConfig({ streams: [], server: { allowedOrigins: o } }).server.allowedOrigins;
    expect(origins(['https://cams.example.com', 'http://10.0.0.2:8080', '*'])).toHaveLength(3);
    for (const bad of ['cams.example.com', 'https://cams.example.com/dash', 'ftp://x'])
      expect(() => origins([bad])).toThrow(/expected an origin/);
  });

  it('keeps format for the config but refuses it over the API', () => {
    expect(parseServeConfig({ streams: [{ path: '/dev/video0', format: 'v4l2' }] }).streams[0]!.format).toBe(
      'v4l2',
    );
    expect(() => parseStreamRequest({ path: '/etc/shadow', format: 'concat' })).toThrow(/format/);
    expect(() => parseStreamRequest({ url: 'rtsp://cam/x', inputOptions: ['-f', 'tty'] })).toThrow(
      /inputOptions/,
    );
  });
});
