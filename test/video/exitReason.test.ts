import { describe, expect, it } from 'vitest';
import { type ExitFacts, exitFailure } from '../../src/video/exitReason.js';

const clean: ExitFacts = {
  code: 0,
  signal: null,
  decoded: 10,
  problems: [],
  decodeErrors: [],
  strict: true,
  live: false,
  loop: false,
};

describe('exitFailure', () => {
  it('a clean exit with frames is a success', () => {
    expect(exitFailure(clean)).toBeUndefined();
  });

  it('names the signal or code, the frames before it and what ffmpeg said', () => {
    expect(exitFailure({ ...clean, code: null, signal: 'SIGKILL', decoded: 0 })).toBe(
      'ffmpeg was killed by SIGKILL',
    );
    expect(exitFailure({ ...clean, code: 1, problems: ['Connection refused'] })).toBe(
      'stopped after 10 frames: unreachable: connection refused (ffmpeg: Connection refused)',
    );
  });

  it('a clean exit with no frame is a failure', () => {
    expect(exitFailure({ ...clean, decoded: 0 })).toBe('no video frames could be decoded');
  });

  it('strict: images that gave no frame, and decode errors in a file, fail a clean exit', () => {
    const images = { missing: ['a.png', 'b.png'], total: 5 };
    expect(exitFailure({ ...clean, images })).toBe('2 of 5 images could not be decoded: a.png, b.png');
    expect(exitFailure({ ...clean, images, loop: true })).toBeUndefined();
    expect(exitFailure({ ...clean, images, strict: false })).toBeUndefined();
    const decodeErrors = ['[h264 @ 0x1] [error] File ended prematurely'];
    expect(exitFailure({ ...clean, decodeErrors })).toBe(
      'decoded 10 frames, then hit truncated data (ffmpeg: File ended prematurely)',
    );
    expect(exitFailure({ ...clean, decodeErrors, live: true })).toBeUndefined();
  });
});
