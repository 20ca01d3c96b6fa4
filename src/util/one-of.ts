/** Whether `x` is one of `choices`: a membership test that narrows, for `as const` lists of words. */
export const isOneOf = <T extends string>(choices: readonly T[], x: unknown): x is T =>
  (choices as readonly unknown[]).includes(x);
