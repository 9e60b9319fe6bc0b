import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths that may hold a secret anywhere in a log object. pino's redaction needs explicit
 * paths, so list the shapes we use; tests grep a full run's logs for every secret they set.
 */
export const REDACT_PATHS = [
  'password',
  'secret',
  'secretHash',
  'passwordHash',
  'token',
  'key',
  'privateKey',
  'authorization',
  'cookie',
  '*.password',
  '*.secret',
  '*.secretHash',
  '*.passwordHash',
  '*.token',
  '*.key',
  '*.privateKey',
  '*.authorization',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.*.password',
  '*.*.secret',
  '*.*.secretHash',
];

export interface LoggerSettings {
  level?: string;
  /** Pretty output for a terminal; JSON otherwise (production, CI, files). */
  pretty?: boolean;
  destination?: pino.DestinationStream;
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    name: 'gridguard',
    // The environment wins over the site file, like the other GRIDGUARD_* overrides.
    level: process.env.GRIDGUARD_LOG_LEVEL ?? settings.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (settings.destination) return pino(options, settings.destination);
  const pretty = settings.pretty ?? (process.stdout.isTTY === true && process.env.NODE_ENV !== 'production');
  if (pretty) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' } },
    });
  }
  return pino(options);
}

/** A logger that writes nothing, for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
