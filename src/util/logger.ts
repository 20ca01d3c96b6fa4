import { type Logger, pino } from 'pino';
import { InputError } from '../errors.js';
import { isOneOf } from './one-of.js';

export type { Logger };

/** The levels `--log-level` and VITSTREAM_LOG take (pino's, and silent), loudest first. */
export const LOG_LEVELS = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/**
 * Library code logs through this and stays silent unless the user asks: `VITSTREAM_LOG=debug`
 * or an explicit level (the CLI passes `--log-level`). Logs go to stderr so stdout stays data.
 */
export function createLogger(name: string, level?: string): Logger {
  const fromEnv = level === undefined ? process.env.VITSTREAM_LOG : undefined;
  // pino throws a bare "default level:x must be included in custom levels" for an unknown one.
  if (fromEnv !== undefined && !isOneOf(LOG_LEVELS, fromEnv))
    throw new InputError(`VITSTREAM_LOG: expected one of ${LOG_LEVELS.join(', ')}, got "${fromEnv}"`, {
      input: 'VITSTREAM_LOG',
    });
  return pino({ name, level: level ?? fromEnv ?? 'silent' }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything: the default for library objects given none. */
export const silentLogger: Logger = pino({ level: 'silent' });
