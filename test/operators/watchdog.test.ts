import { Subject } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StallError, watchdog } from '../../src/operators/watchdog.js';

// Fake timers drive both the watchdog's timer and its clock (Date.now), so no test waits on wall time.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function watch(first: number, gap: number) {
  const source = new Subject<number>();
  const got: number[] = [];
  const stalls: string[] = [];
  let error: unknown;
  const sub = source
    .pipe(
      watchdog<number>('cam', {
        firstFrameTimeoutMs: first,
        noFrameTimeoutMs: gap,
        onStall: (s) => stalls.push(s.kind),
      }),
    )
    .subscribe({ next: (v) => got.push(v), error: (e) => (error = e) });
  return { source, got, stalls, error: () => error, sub };
}

describe('watchdog', () => {
  it('errors with a first-frame StallError when nothing comes, after telling onStall', () => {
    const w = watch(1000, 500);
    vi.advanceTimersByTime(999);
    expect(w.error()).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(w.stalls).toEqual(['first-frame']);
    expect(w.error()).toBeInstanceOf(StallError);
    expect(w.error()).toMatchObject({ kind: 'first-frame', input: 'cam' });
  });

  it('switches to the gap limit after the first value, and re-arms on each value', () => {
    const w = watch(1000, 300);
    w.source.next(1);
    vi.advanceTimersByTime(200);
    w.source.next(2);
    vi.advanceTimersByTime(200);
    w.source.next(3);
    vi.advanceTimersByTime(299);
    expect(w.error()).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(w.got).toEqual([1, 2, 3]);
    expect(w.error()).toMatchObject({ kind: 'no-frame' });
  });

  it('0 disables a limit; completion and unsubscription stop the timer', () => {
    const off = watch(0, 0);
    vi.advanceTimersByTime(60_000);
    expect(off.error()).toBeUndefined();
    const done = watch(100, 100);
    done.source.complete();
    done.sub.unsubscribe();
    vi.advanceTimersByTime(1000);
    expect(done.error()).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('activity (frames sampled out upstream) counts as life, the first one included', () => {
    const source = new Subject<number>();
    const activity = new Subject<void>();
    let error: unknown;
    source
      .pipe(watchdog<number>('cam', { firstFrameTimeoutMs: 1000, noFrameTimeoutMs: 300, activity }))
      .subscribe({
        error: (e) => {
          error = e;
        },
      });
    for (let t = 0; t < 10; t++) {
      vi.advanceTimersByTime(250);
      activity.next();
    }
    expect(error).toBeUndefined();
    vi.advanceTimersByTime(300);
    expect(error).toMatchObject({ kind: 'no-frame' });
  });

  it('with started: the first-frame limit counts from the latest start, not from subscription (issue #21)', () => {
    const source = new Subject<number>();
    const started = new Subject<void>();
    const stalls: { kind: string; waitedMs: number }[] = [];
    let error: unknown;
    source
      .pipe(
        watchdog<number>('cam', {
          firstFrameTimeoutMs: 1000,
          noFrameTimeoutMs: 300,
          started,
          onStall: (s) => stalls.push(s),
        }),
      )
      .subscribe({ error: (e) => (error = e) });
    // 30 feeds waiting 10 s for the NVDEC probe: none of them is a silent camera.
    vi.advanceTimersByTime(10_000);
    expect(error).toBeUndefined();
    started.next();
    vi.advanceTimersByTime(600);
    // A fallback restarts ffmpeg (NVDEC refused the stream): the limit counts from that start.
    started.next();
    vi.advanceTimersByTime(999);
    expect(error).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(stalls).toEqual([{ kind: 'first-frame', waitedMs: 1000 }]);
    expect(error).toMatchObject({ kind: 'first-frame' });
  });

  it('with started: a start that never comes still stalls, after the start grace', () => {
    const started = new Subject<void>();
    let error: unknown;
    new Subject<number>()
      .pipe(watchdog<number>('cam', { firstFrameTimeoutMs: 1000, started, startGraceMs: 5000 }))
      .subscribe({ error: (e) => (error = e) });
    vi.advanceTimersByTime(5999);
    expect(error).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(error).toMatchObject({ kind: 'first-frame', waitedMs: 6000 });
  });
});
