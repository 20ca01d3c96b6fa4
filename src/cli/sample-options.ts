import { InputError } from '../errors.js';
import type { SampleOptions } from '../operators/sampleFrames.js';
import { parsePositiveInt } from './options.js';

/** `--every n` or `--fps f` (one of them, or neither: every frame). */
export function parseSample(f: { every?: string; fps?: string }): SampleOptions | undefined {
  if (f.every && f.fps)
    throw new InputError('--every and --fps are alternatives: give one', { input: '--every/--fps' });
  if (f.every) return { every: parsePositiveInt(f.every, '--every') };
  if (f.fps) {
    const fps = Number(f.fps);
    if (!(fps > 0))
      throw new InputError(`--fps: expected a positive number, got "${f.fps}"`, { input: '--fps' });
    return { fps };
  }
  return undefined;
}
