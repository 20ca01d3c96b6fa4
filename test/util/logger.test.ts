import { afterEach, describe, expect, it, vi } from 'vitest';
import { InputError } from '../../src/errors.js';
import { createLogger } from '../../src/util/logger.js';

afterEach(() => vi.unstubAllEnvs());

describe('createLogger', () => {
  it('takes its level from VITSTREAM_LOG when none is given', () => {
    vi.stubEnv('VITSTREAM_LOG', 'debug');
    expect(createLogger('t').level).toBe('debug');
    expect(createLogger('t', 'error').level).toBe('error');
  });

  it('an unknown VITSTREAM_LOG level: an InputError naming the variable and the levels', () => {
    vi.stubEnv('VITSTREAM_LOG', 'loud');
    expect(() => createLogger('t')).toThrow(InputError);
    expect(() => createLogger('t')).toThrow(/^VITSTREAM_LOG: expected one of .*warn.*, got "loud"$/);
  });
});
