import { describe, expect, it } from 'vitest';
import { openEngine } from '../../src/app/open-engine.js';
import { EngineError } from '../../src/errors.js';
import { sharedPath } from '../helpers/shared.js';

const model = sharedPath('fixtures', 'vit-tiny-test', 'config.json');
const weights = sharedPath('fixtures', 'vit-tiny-test', 'weights.npz');

describe('openEngine options', () => {
  it.each([
    [{ precision: 'fp8' }, `openEngine: precision must be 'fp32', 'fp16' or 'int8', got "fp8"`],
    [{ backend: 'cuda' }, `openEngine: backend must be 'webgpu' or 'cpu', got "cuda"`],
    [{ int8Mode: 3 }, 'openEngine: int8Mode must be 1 or 2, got 3'],
    [{ maxBatch: 0 }, 'openEngine: maxBatch must be a positive integer, got 0'],
  ])(
    '%o: refused with an EngineError naming the option, not opened as something else',
    async (bad, message) => {
      const err = await openEngine({ model, weights, ...(bad as object) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineError);
      expect((err as Error).message).toBe(message);
    },
  );
});
