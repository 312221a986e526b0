import pino, { type Logger } from 'pino';

export type { Logger };

/** One root logger; children carry the request id, the module or the connection. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'switchboard' },
    // Credentials never reach the logs, whichever shape the object logged has.
    redact: {
      paths: ['req.headers.authorization', '*.password', '*.token', '*.acceptToken', 'authorization'],
      censor: '[redacted]',
    },
  });
}
