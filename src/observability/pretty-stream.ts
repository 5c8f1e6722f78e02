import type { DestinationStream } from 'pino';
import pretty from 'pino-pretty';

/**
 * Human-readable log lines, for createLogger's `destination`. Its own module, imported only
 * when pretty lines are asked for: loading pino-pretty costs every other command startup time.
 *
 * pino-pretty as a stream in this thread, not a worker-thread transport: a transport loads
 * its target by module name at run time, which a bundled single binary cannot do. Synchronous
 * writes, like the JSON destination, so the last lines before an exit are not lost. One line
 * per entry; the fields follow the message. Redaction happens in pino, before this stream.
 */
export function prettyStream(destination: NodeJS.WritableStream | number = 1): DestinationStream {
  return pretty({
    sync: true,
    singleLine: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname',
    destination,
  });
}
