import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

/** Secrets never reach a log line: auth keys, MACs, tokens and Authorization headers. */
export const REDACT_PATHS = [
  'authKey', 'key', 'mac', 'token', 'authorization', 'password', 'secret',
  '*.authKey', '*.key', '*.mac', '*.token', '*.authorization', '*.password', '*.secret',
  '*.*.authKey', '*.*.key', '*.*.mac', '*.*.token',
  'req.headers.authorization', 'request.headers.authorization', 'headers.authorization',
  'config.central.authKey', 'central.authKey',
  'config.central.webhooks.secret', 'central.webhooks.secret', 'webhooks.secret',
] as const;

export const REDACTED = '[redacted]';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Defaults to stdout (synchronous, so nothing is lost on exit). */
  readonly destination?: DestinationStream | NodeJS.WritableStream;
  /** Fields on every line; pid and hostname by default. */
  readonly base?: Record<string, unknown>;
  /** Human-readable lines (pino-pretty) instead of JSON lines. */
  readonly pretty?: boolean;
}

/**
 * `--pretty` / `--no-pretty` first, then `log.pretty`, else pretty only for a person at a
 * terminal: a pipe, a file or journald gets JSON lines, one object each.
 */
export function choosePretty(flag: boolean | undefined, configured: boolean | undefined, stdoutIsTTY: boolean): boolean {
  return flag ?? configured ?? stdoutIsTTY;
}

/**
 * pino-pretty as a stream in this thread, not a worker-thread transport: a transport loads
 * its target by module name at run time, which a bundled single binary cannot do. Synchronous
 * writes, like the JSON destination, so the last lines before an exit are not lost. One line
 * per entry; the fields follow the message.
 */
function prettyStream(destination: DestinationStream | NodeJS.WritableStream | undefined): DestinationStream {
  return pretty({
    sync: true,
    singleLine: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname',
    ...(destination ? { destination } : { destination: 1 }),
  });
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
    opts.pretty ? prettyStream(opts.destination) : ((opts.destination ?? pino.destination({ dest: 1, sync: true })) as DestinationStream),
  );
}
