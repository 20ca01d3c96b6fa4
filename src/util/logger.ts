import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Library code logs through this and stays silent unless the user asks: `VITSTREAM_LOG=debug`
 * or an explicit level (the CLI passes `--log-level`). Logs go to stderr so stdout stays data.
 */
export function createLogger(name: string, level?: string): Logger {
  return pino(
    { name, level: level ?? process.env.VITSTREAM_LOG ?? 'silent' },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything: the default for library objects given none. */
export const silentLogger: Logger = pino({ level: 'silent' });
