import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseClientMessage, STREAM_STATES } from '../../src/server/protocol.js';

describe('PROTOCOL.md', () => {
  it('lists every stream state the server can send, and no other', () => {
    const doc = readFileSync(new URL('../../src/server/PROTOCOL.md', import.meta.url), 'utf8');
    const sentence = /`state` is one of([^.]*)\./.exec(doc.replace(/\s+/g, ' '))?.[1] ?? '';
    const listed = [...sentence.matchAll(/`([a-z]+)` \(/g)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...STREAM_STATES].sort());
  });
});

describe('parseClientMessage', () => {
  it('accepts the documented client messages', () => {
    expect(parseClientMessage('{"type":"subscribe","streams":["cam1","*"]}')).toEqual({
      ok: true,
      message: { type: 'subscribe', streams: ['cam1', '*'] },
    });
    expect(parseClientMessage('{"type":"unsubscribe","streams":["cam1"]}').ok).toBe(true);
    expect(parseClientMessage('{"type":"ping"}').ok).toBe(true);
    expect(parseClientMessage('{"type":"ping","id":"abc"}').ok).toBe(true);
  });

  it('names what is wrong without throwing', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /malformed JSON/],
      ['{', /malformed JSON/],
      ['"subscribe"', /JSON object/],
      ['{"type":5}', /"type" must be a string/],
      ['{"type":"__proto__"}', /unknown message type/],
      ['{"type":"toString"}', /unknown message type/],
      ['{"type":"subscribe"}', /^subscribe: streams:/],
      ['{"type":"subscribe","streams":[""]}', /^subscribe: streams\.0:/],
      [`{"type":"subscribe","streams":${JSON.stringify(Array(300).fill('a'))}}`, /^subscribe: streams:/],
      ['{"type":"ping","id":{}}', /^ping: id:/],
    ];
    for (const [text, re] of bad) {
      const r = parseClientMessage(text);
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(r.error, text).toMatch(re);
    }
  });
});
