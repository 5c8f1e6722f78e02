import { pino, type DestinationStream, type Logger } from 'pino';
import { TurnBatchedDestination } from './turn-batched-destination.js';

/** Secrets never reach a log line: auth keys, MACs, tokens and Authorization headers. */
export const REDACT_PATHS = [
  'authKey', 'key', 'mac', 'token', 'authorization', 'password', 'secret',
  '*.authKey', '*.key', '*.mac', '*.token', '*.authorization', '*.password', '*.secret',
  '*.*.authKey', '*.*.key', '*.*.mac', '*.*.token',
  'req.headers.authorization', 'request.headers.authorization', 'headers.authorization',
  'config.central.authKey', 'central.authKey',
  'config.central.webhooks.secret', 'central.webhooks.secret', 'webhooks.secret',
  'config.cluster.password', // cluster.password: '*.password' above
] as const;

export const REDACTED = '[redacted]';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  readonly level: LogLevel;
  /**
   * Defaults to stdout: synchronous writes, each turn's lines in one (TurnBatchedDestination),
   * written on exit too.
   */
  readonly destination?: DestinationStream | NodeJS.WritableStream;
  /** Fields on every line; pid and hostname by default. */
  readonly base?: Record<string, unknown>;
}

/**
 * `--pretty` / `--no-pretty` first, then `log.pretty`, else pretty only for a person at a
 * terminal: a pipe, a file or journald gets JSON lines, one object each.
 */
export function choosePretty(flag: boolean | undefined, configured: boolean | undefined, stdoutIsTTY: boolean): boolean {
  return flag ?? configured ?? stdoutIsTTY;
}

/** A pino logger with redaction; one per daemon instance. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level,
      ...(opts.base ? { base: opts.base } : {}),
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      serializers: { err: pino.stdSerializers.err },
    },
    (opts.destination ?? new TurnBatchedDestination(pino.destination({ dest: 1, sync: true }))) as DestinationStream,
  );
}
