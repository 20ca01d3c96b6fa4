import { InputError } from '../errors.js';
import { isOneOf } from '../util/one-of.js';

/** Parses "1,8,16,32" into positive integers; `what` names the flag in errors. */
export function parseIntList(text: string, what: string): number[] {
  const xs = text.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1))
    throw new InputError(`${what}: expected a comma-separated list of positive integers, got "${text}"`, {
      input: what,
    });
  return xs;
}

export function parsePositiveInt(text: string, what: string): number {
  const x = Number(text);
  if (!Number.isInteger(x) || x < 1)
    throw new InputError(`${what}: expected a positive integer, got "${text}"`, { input: what });
  return x;
}

export function parseNonNegativeInt(text: string, what: string): number {
  const x = Number(text);
  if (!Number.isInteger(x) || x < 0)
    throw new InputError(`${what}: expected a whole number >= 0, got "${text}"`, { input: what });
  return x;
}

/** One of a fixed set of words; the error lists them. */
export function parseChoice<T extends string>(text: string, what: string, choices: readonly T[]): T {
  if (!isOneOf(choices, text))
    throw new InputError(`${what}: expected ${choices.join(', ')}, got "${text}"`, { input: what });
  return text as T;
}

/** How frames reach the engine (`--input-path` of classify and serve). */
export const INPUT_PATHS = ['direct', 'infer'] as const;
export type InputPath = (typeof INPUT_PATHS)[number];

export const INPUT_PATH_HELP =
  'how frames reach the engine: direct (written into its upload memory where it has some) or infer (a batch buffer the engine copies; for comparison)';

/** `--input-path direct|infer`. */
export function parseInputPath(text: string): InputPath {
  if (!isOneOf(INPUT_PATHS, text))
    throw new InputError(`--input-path: expected direct or infer, got "${text}"`, { input: '--input-path' });
  return text;
}

/** `--precision` of the commands that also take int8 (bench, tune): the FP ones and whether int8 is in. */
export function parsePrecisionsWithInt8(text: string): { fp: ('fp32' | 'fp16')[]; int8: boolean } {
  const xs = text.split(',').map((s) => s.trim());
  for (const x of xs)
    if (x !== 'fp32' && x !== 'fp16' && x !== 'int8')
      throw new InputError(`--precision: expected fp32, fp16 or int8, got "${x}"`, { input: '--precision' });
  return { fp: xs.filter((x) => x !== 'int8') as ('fp32' | 'fp16')[], int8: xs.includes('int8') };
}

/** `--int8-mode 1|2`. */
export function parseInt8Mode(text: string): 1 | 2 {
  if (text !== '1' && text !== '2')
    throw new InputError(`--int8-mode: expected 1 or 2, got "${text}"`, { input: '--int8-mode' });
  return Number(text) as 1 | 2;
}
