import { pino, type Logger } from 'pino';

export type { Logger };

/** The one logger. Secrets are redacted by path wherever they could appear in a logged object. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'clipwire' },
    redact: {
      paths: [
        'authorization',
        '*.authorization',
        'headers.authorization',
        '*.headers.authorization',
        'apiKey',
        '*.apiKey',
        'secretKey',
        '*.secretKey',
        'token',
        '*.token',
        'callbackUrl',
        '*.callbackUrl',
      ],
      censor: '[redacted]',
    },
  });
}
