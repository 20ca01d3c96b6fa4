import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { type SampleOptions, sampleFrames } from '../../src/operators/sampleFrames.js';
import type { Frame } from '../../src/video/frame.js';

function frame(streamId: string, index: number, ptsMs: number, released: string[] = []): Frame {
  return {
    streamId,
    index,
    ptsMs,
    receivedAtMs: 0,
    width: 1,
    height: 1,
    rgb: new Uint8Array(3),
    release: () => released.push(`${streamId}:${index}`),
  };
}

describe('sampleFrames', () => {
  it('keeps every Nth frame by index, per stream, and releases the rest', async () => {
    const released: string[] = [];
    const input = [0, 1, 2, 3, 4, 5, 6].flatMap((i) => [
      frame('a', i, i * 40, released),
      frame('b', i + 1, i * 40, released),
    ]);
    const out = await lastValueFrom(from(input).pipe(sampleFrames({ every: 3 }), toArray()));
    expect(out.map((f) => `${f.streamId}:${f.index}`)).toEqual(['a:0', 'b:3', 'a:3', 'b:6', 'a:6']);
    expect(released.length).toBe(input.length - out.length);
    expect(released).not.toContain('a:0');
  });

  it('keeps frames at most fps per second of stream time, on a grid', async () => {
    // 30 fps stream (33.33 ms) sampled at 10 fps: every 3rd frame
    const input = Array.from({ length: 12 }, (_, i) => frame('a', i, Math.round((i * 1000) / 30)));
    const out = await lastValueFrom(from(input).pipe(sampleFrames({ fps: 10 }), toArray()));
    expect(out.map((f) => f.index)).toEqual([0, 3, 6, 9]);
  });

  it('samples a variable-frame-rate stream by time, skipping slots after a gap, and restarts when time goes back', async () => {
    const pts = [0, 10, 20, 100, 400, 410, 520, 0, 50, 100];
    const input = pts.map((t, i) => frame('a', i, t));
    const out = await lastValueFrom(from(input).pipe(sampleFrames({ fps: 10 }), toArray()));
    expect(out.map((f) => f.ptsMs)).toEqual([0, 100, 400, 520, 0, 100]);
  });

  it('rejects nonsense options', () => {
    expect(() => sampleFrames({ every: 0 })).toThrow(OptionError);
    expect(() => sampleFrames({ fps: -1 })).toThrow(OptionError);
    // Both, or neither: one of them would be silently ignored.
    expect(() => sampleFrames({ every: 2, fps: 1 } as unknown as SampleOptions)).toThrow(
      'give every or fps, not both',
    );
    expect(() => sampleFrames({} as unknown as SampleOptions)).toThrow(/give every .* or fps/);
  });
});
