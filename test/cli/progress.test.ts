import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressBoard } from '../../src/cli/progress.js';

/** A terminal of 100 columns that records what is drawn. */
function fakeTerminal() {
  const s = new PassThrough() as unknown as NodeJS.WriteStream & { text(): string };
  const ok = (...args: unknown[]) => {
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  };
  Object.assign(s, {
    isTTY: true,
    columns: 100,
    rows: 40,
    cursorTo: ok,
    moveCursor: ok,
    clearLine: ok,
    clearScreenDown: ok,
  });
  let out = '';
  (s as unknown as PassThrough).on('data', (d: Buffer) => (out += d.toString()));
  const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[a-zA-Z]`, 'g');
  s.text = () => out.replace(ansi, '');
  return s;
}

describe('progressBoard', () => {
  it('on a terminal: bars in the order added; a failed item is marked failed, not a full bar or 0/0', async () => {
    const term = fakeTerminal();
    const board = progressBoard(term);
    board.add('a', 'first.mp4', 10);
    board.add('b', 'missing.mp4');
    board.add('c', 'third.mp4', 4);
    board.fail('b', 'no such file');
    board.update('a', 10);
    board.finish('a', '10 frames');
    board.update('c', 4);
    board.finish('c', '4 frames');
    board.stop();
    await new Promise((r) => setImmediate(r));
    const lines = term
      .text()
      .split('\n')
      .filter((l) => l.trim());
    const last = lines.slice(-3);
    expect(last.map((l) => l.split(' ')[0])).toEqual(['first.mp4', 'missing.mp4', 'third.mp4']);
    expect(last[1]).toMatch(/FAILED/);
    expect(last[1]).not.toMatch(/100%|0\/0/);
    expect(last[0]).toMatch(/100% \| 10\/10 frames/);
  });

  it('elsewhere: a failure is a line of its own with the whole error, once', () => {
    let out = '';
    const stream = {
      isTTY: false,
      write: (s: string) => {
        out += s;
        return true;
      },
    } as unknown as NodeJS.WriteStream;
    const board = progressBoard(stream);
    board.add('b', 'missing.mp4');
    const error = `no such file ${'and a long explanation '.repeat(10)}`;
    board.fail('b', error);
    board.fail('b', error);
    board.stop();
    expect(out).toBe(`missing.mp4: FAILED: ${error}\n`);
  });
});
