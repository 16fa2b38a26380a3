import { type DestinationStream, type Level, pino } from 'pino';
import type { Logger } from '../core/ports.ts';
import type { Redactor } from '../core/redaction.ts';

export interface LoggerOptions {
  readonly level: Level | 'silent';
  /** Replaces known secret values anywhere in a log line, whatever field they hide in. */
  readonly redact: Redactor;
  readonly destination?: DestinationStream;
}

/**
 * pino with two nets for secrets: field paths that hold credentials are censored, and every
 * line is scrubbed of known secret values before it is written.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'steward' },
      redact: {
        paths: [
          'apiKey',
          '*.apiKey',
          'headers.authorization',
          '*.headers.authorization',
          'headers.Authorization',
          '*.headers.Authorization',
          'token',
          '*.token',
          'password',
          '*.password',
          'err.config',
        ],
        censor: '[redacted]',
      },
      hooks: { streamWrite: (line) => options.redact(line) },
    },
    options.destination ?? pino.destination(1),
  );
}
