import { type Logger, pino } from 'pino';
import { InputError } from '../errors.js';

export type { Logger };

/**
 * Library code logs through this and stays silent unless the user asks: `VITSTREAM_LOG=debug`
 * or an explicit level (the CLI passes `--log-level`). Logs go to stderr so stdout stays data.
 */
export function createLogger(name: string, level?: string): Logger {
  const fromEnv = level === undefined ? process.env.VITSTREAM_LOG : undefined;
  // pino throws a bare "default level:x must be included in custom levels" for an unknown one.
  if (fromEnv !== undefined && !(fromEnv in pino.levels.values) && fromEnv !== 'silent')
    throw new InputError(
      `VITSTREAM_LOG: expected one of ${[...Object.keys(pino.levels.values), 'silent'].join(', ')}, got "${fromEnv}"`,
      { input: 'VITSTREAM_LOG' },
    );
  return pino({ name, level: level ?? fromEnv ?? 'silent' }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything: the default for library objects given none. */
export const silentLogger: Logger = pino({ level: 'silent' });
