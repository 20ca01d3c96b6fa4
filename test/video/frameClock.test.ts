import { describe, expect, it } from 'vitest';
import { FrameClock } from '../../src/video/frameClock.js';

describe('FrameClock', () => {
  it('keeps a frame’s own pts, and continues a file by its last step when one is missing', () => {
    const c = new FrameClock(false);
    expect([c.ptsOf(0, 1000), c.ptsOf(40, 1000), c.ptsOf(undefined, 1000), c.ptsOf(undefined, 1000)]).toEqual(
      [0, 40, 80, 120],
    );
  });

  it('uses wall time since the first frame for a live feed without timestamps', () => {
    const c = new FrameClock(true);
    expect([c.ptsOf(undefined, 5000), c.ptsOf(undefined, 5033), c.ptsOf(undefined, 5100)]).toEqual([
      0, 33, 100,
    ]);
  });
});
