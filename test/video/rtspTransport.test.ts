import { describe, expect, it } from 'vitest';
import { parseStreamRequest } from '../../src/serve-config.js';
import { inputArgs } from '../../src/video/args.js';
import type { FfmpegHandle } from '../../src/video/ffmpeg.js';
import { rtspTransportHint } from '../../src/video/rtspTransport.js';
import { resolveSource, type VideoSource } from '../../src/video/source.js';

// Issue #25 item 6: the RTSP transport is chosen per feed; a server that refuses TCP gets a hint.
const ff = { path: 'ffmpeg', version: '5.1.9', major: 5, minor: 1 } as FfmpegHandle;
const args = (s: VideoSource) => inputArgs(resolveSource({ url: 'rtsp://127.0.0.1:8554/cam', ...s }), ff);
const transportOf = (a: string[]) =>
  a.includes('-rtsp_transport') ? a[a.indexOf('-rtsp_transport') + 1] : 'auto';

describe('rtspTransport', () => {
  it("tcp by default, udp or ffmpeg's own choice when asked, before -i", async () => {
    expect(transportOf(await args({}))).toBe('tcp');
    expect(transportOf(await args({ rtspTransport: 'udp' }))).toBe('udp');
    expect(transportOf(await args({ rtspTransport: 'auto' }))).toBe('auto');
    const a = await args({ rtspTransport: 'udp' });
    expect(a.indexOf('-rtsp_transport')).toBeLessThan(a.indexOf('-i'));
  });

  it('refuses anything else with a line naming the option', async () => {
    await expect(args({ rtspTransport: 'udp_multicast -i /etc/passwd' as 'udp' })).rejects.toThrow(
      /rtspTransport must be tcp, udp or auto/,
    );
  });

  it('is a stream field of the config and the API, checked there', () => {
    expect(parseStreamRequest({ url: 'rtsp://cam/x', rtspTransport: 'udp' })).toMatchObject({
      rtspTransport: 'udp',
    });
    expect(() => parseStreamRequest({ url: 'rtsp://cam/x', rtspTransport: 'quic' })).toThrow(/rtspTransport/);
  });

  it('hints at UDP when a TCP SETUP is refused with a bare status', () => {
    const refused = ['[error] [rtsp @ 0x1] method SETUP failed: 400 Bad Request'];
    expect(rtspTransportHint('rtsp://cam/x', undefined, refused)).toMatch(
      /the server may only offer RTSP over UDP: try rtspTransport: udp/,
    );
    expect(rtspTransportHint('rtsp://cam/x', 'udp', refused)).toBe('');
    expect(rtspTransportHint('http://cam/x', undefined, refused)).toBe('');
    expect(rtspTransportHint('rtsp://cam/x', 'tcp', ['[error] Connection refused'])).toBe('');
  });
});
