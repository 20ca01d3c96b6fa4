import { describe, expect, it } from 'vitest';
import { type DropPolicy, FlowControl } from '../../src/video/flowControl.js';

class Item {
  released = false;
  constructor(readonly n: number) {}
  release() {
    this.released = true;
  }
}

function flow(policy: DropPolicy, maxUnreleased: number, maxQueued = 1) {
  const log: string[] = [];
  const out: Item[] = [];
  const f = new FlowControl<Item>({
    policy,
    maxUnreleased,
    maxQueued,
    emit: (i) => out.push(i),
    pause: () => log.push('pause'),
    resume: () => log.push('resume'),
    idle: () => log.push('idle'),
  });
  return { f, out, log };
}

describe('FlowControl', () => {
  it('block: holds every item past the limit, pauses once, resumes when all went out', () => {
    const { f, out, log } = flow('block', 2);
    const items = [0, 1, 2, 3, 4].map((n) => new Item(n));
    for (const i of items) f.offer(i);
    expect(out.map((i) => i.n)).toEqual([0, 1]);
    expect(log).toEqual(['pause']);
    f.released();
    expect(out.map((i) => i.n)).toEqual([0, 1, 2]);
    f.released();
    f.released();
    expect(out.map((i) => i.n)).toEqual([0, 1, 2, 3, 4]);
    expect(log).toEqual(['pause', 'resume', 'idle']);
    expect(f.dropped).toBe(0);
    expect(f.drained).toBe(true);
  });

  it('drop-oldest: keeps the newest maxQueued waiting, releases and counts the rest', () => {
    const { f, out, log } = flow('drop-oldest', 1, 2);
    const items = [0, 1, 2, 3, 4].map((n) => new Item(n));
    for (const i of items) f.offer(i);
    expect(out.map((i) => i.n)).toEqual([0]);
    expect(items.filter((i) => i.released).map((i) => i.n)).toEqual([1, 2]);
    expect(f.dropped).toBe(2);
    f.released();
    f.released();
    expect(out.map((i) => i.n)).toEqual([0, 3, 4]);
    expect(log).not.toContain('pause');
  });

  it('drop-newest: keeps the first waiting, drops what comes after', () => {
    const { f, out } = flow('drop-newest', 1, 1);
    const items = [0, 1, 2, 3].map((n) => new Item(n));
    for (const i of items) f.offer(i);
    expect(items.filter((i) => i.released).map((i) => i.n)).toEqual([2, 3]);
    f.released();
    expect(out.map((i) => i.n)).toEqual([0, 1]);
    expect(f.dropped).toBe(2);
  });

  it('stop releases what waits and everything offered later', () => {
    const { f, out } = flow('block', 0);
    const a = new Item(0);
    f.offer(a);
    f.stop();
    const b = new Item(1);
    f.offer(b);
    expect(out).toEqual([]);
    expect([a.released, b.released]).toEqual([true, true]);
  });
});
