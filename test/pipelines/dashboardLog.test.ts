import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { logSourceEvent } from '../../pipelines/dashboard.js';

/** A real pino logger writing its JSON lines into an array. */
function capture() {
  const lines: { msg: string; reason?: string }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe("serve's log of a source's end", () => {
  it('says the watchdog closed a stalled connection, or what ended the source, never "unsubscribed"', async () => {
    const { logger, lines } = capture();
    const ended = (reason: 'complete' | 'error' | 'unsubscribed', frames: number) =>
      ({ type: 'ended', streamId: 'cam', atMs: 0, reason, frames, dropped: 0 }) as const;
    logSourceEvent(logger, ended('unsubscribed', 40), 'reconnecting');
    logSourceEvent(logger, ended('unsubscribed', 5), 'live');
    logSourceEvent(logger, ended('complete', 89), 'ended');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((l) => l.msg)).toEqual([
      'stalled connection closed by the watchdog; restarting',
      'source ended: stopped after 5 frames',
      'source ended: end of input after 89 frames',
    ]);
    for (const l of lines) expect(JSON.stringify(l)).not.toMatch(/unsubscribed/);
  });
});
