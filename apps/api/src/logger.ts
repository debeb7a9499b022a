import { type DestinationStream, type LoggerOptions, pino, type Logger } from 'pino';

export type { Logger };

/** The one logger (to stdout, or to `destination`). Secrets are redacted by path wherever they could appear. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
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
  };
  return destination ? pino(options, destination) : pino(options);
}
