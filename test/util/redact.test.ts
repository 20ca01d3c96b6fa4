import { describe, expect, it } from 'vitest';
import { redactCredentials } from '../../src/util/redact.js';

describe('redactCredentials', () => {
  it('hides passwords in URLs, wherever they sit in a string', () => {
    expect(redactCredentials('rtsp://admin:campass@10.0.0.1/live')).toBe('rtsp://admin:***@10.0.0.1/live');
    expect(redactCredentials('ffmpeg: rtsp://a:b@h:554/x?y=1 failed')).toBe(
      'ffmpeg: rtsp://a:***@h:554/x?y=1 failed',
    );
    expect(redactCredentials('rtsp://:p@h/x')).toBe('rtsp://:***@h/x');
    expect(redactCredentials('rtsp://u:p%40x@h/')).toBe('rtsp://u:***@h/');
  });

  it('leaves URLs without a password and plain paths alone', () => {
    for (const s of ['rtsp://user@h/x', 'http://h/a@b', '/tmp/x.mp4', 'cam:1'])
      expect(redactCredentials(s)).toBe(s);
  });
});
