import { describe, expect, it } from 'vitest';
import { parseServeConfig } from '../src/serve-config.js';

describe('serve config: decoding keys', () => {
  it('takes hwaccel and keyframesOnly, and names a bad value', () => {
    const c = parseServeConfig({ hwaccel: 'cuda', keyframesOnly: true, streams: [] });
    expect(c.hwaccel).toBe('cuda');
    expect(c.keyframesOnly).toBe(true);
    expect(parseServeConfig({ streams: [] }).hwaccel).toBeUndefined();
    expect(() => parseServeConfig({ hwaccel: 'nvdec', streams: [] })).toThrow(/hwaccel/);
  });
});
