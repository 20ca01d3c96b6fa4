import { describe, expect, it } from 'vitest';
import { type AssembledFrame, FrameAssembler } from '../../src/video/frameAssembler.js';

function assembler(frameBytes: number) {
  const out: AssembledFrame[] = [];
  const a = new FrameAssembler(
    frameBytes,
    () => new Uint8Array(frameBytes),
    (f) => out.push(f),
  );
  return { a, out };
}

describe('FrameAssembler', () => {
  it('cuts chunks that straddle frame boundaries into whole frames', () => {
    const { a, out } = assembler(4);
    a.pts(0);
    a.pts(40);
    a.pts(80);
    a.write(Uint8Array.of(1, 1, 1));
    a.write(Uint8Array.of(1, 2, 2, 2, 2, 3));
    a.write(Uint8Array.of(3, 3, 3));
    expect(out.map((f) => [...f.pixels])).toEqual([
      [1, 1, 1, 1],
      [2, 2, 2, 2],
      [3, 3, 3, 3],
    ]);
    expect(out.map((f) => f.ptsMs)).toEqual([0, 40, 80]);
  });

  it('holds frames until their pts line comes, and pts lines until their frame comes', () => {
    const { a, out } = assembler(2);
    a.write(Uint8Array.of(1, 1, 2, 2));
    expect(out).toHaveLength(0);
    a.pts(10);
    expect(out.map((f) => f.ptsMs)).toEqual([10]);
    a.pts(undefined);
    a.pts(30);
    expect(out.map((f) => f.ptsMs)).toEqual([10, undefined]);
    a.write(Uint8Array.of(3, 3));
    expect(out.map((f) => f.ptsMs)).toEqual([10, undefined, 30]);
  });

  it('at the end, gives frames without a pts line and reports a partial frame', () => {
    const { a, out } = assembler(3);
    a.write(Uint8Array.of(1, 1, 1, 2, 2, 2, 9));
    expect(a.end()).toBe(1);
    expect(out.map((f) => [f.pixels[0], f.ptsMs])).toEqual([
      [1, undefined],
      [2, undefined],
    ]);
    expect(a.end()).toBe(0);
  });

  it('does not loop when the consumer stops reading during the end', () => {
    const out: AssembledFrame[] = [];
    let stop = false;
    const a = new FrameAssembler(
      1,
      () => new Uint8Array(1),
      (f) => {
        if (!stop) out.push(f);
        stop = true;
      },
    );
    a.write(Uint8Array.of(1, 2, 3));
    expect(a.end()).toBe(0);
    expect(out).toHaveLength(1);
  });
});
