import type { DestinationStream } from 'pino';

/** What the lines are handed to: pino.destination({ sync: true }) (sonic-boom), which retries EAGAIN. */
export interface SyncSink {
  write(data: string): unknown;
}

/** Past this many pending characters the lines go out at once, not at the end of the turn. */
const MAX_PENDING_CHARS = 64 * 1024;

/** Destinations holding lines; the process's 'exit' writes them (one listener for them all). */
const pending = new Set<TurnBatchedDestination>();
let exitHooked = false;

function flushAllOnExit(): void {
  for (const d of [...pending]) d.flushSync();
}

/**
 * A log destination that writes at most two times per event-loop turn: the turn's first line
 * at once, the lines after it together at the end of the turn (setImmediate), in one write.
 * Under a burst of handshakes every session start is a line, and one write(2) per line was
 * about 5 % of the daemon's CPU per plain handshake (bench/README.md, "handshakes"); a line
 * logged alone (a start, a signal, a refusal now and then) is written before whatever its
 * caller does next, as with a plain synchronous destination. Every line is written, unchanged
 * and in order; a later line of a busy turn waits at most for that turn's end. The process's
 * 'exit' (a normal exit, process.exit, an uncaught exception) writes what is pending; a
 * SIGKILL or a native crash loses at most the current turn's later lines.
 */
export class TurnBatchedDestination implements DestinationStream {
  readonly #sink: SyncSink;
  #lines = '';
  /** A line was written or held in this turn: the next ones wait for its end. */
  #busyTurn = false;
  readonly #onTurnEnd = (): void => {
    this.#busyTurn = false;
    this.flushSync();
  };

  constructor(sink: SyncSink) {
    this.#sink = sink;
    if (!exitHooked) {
      exitHooked = true;
      process.once('exit', flushAllOnExit);
    }
  }

  write(line: string): void {
    if (!this.#busyTurn) {
      this.#busyTurn = true;
      setImmediate(this.#onTurnEnd);
      this.#sink.write(line);
      return;
    }
    this.#lines += line;
    if (this.#lines.length >= MAX_PENDING_CHARS) {
      this.flushSync();
      return;
    }
    pending.add(this);
  }

  /** Writes the pending lines now. */
  flushSync(): void {
    pending.delete(this);
    if (this.#lines === '') return;
    const out = this.#lines;
    this.#lines = '';
    this.#sink.write(out);
  }

  /** pino's logger.flush(cb). */
  flush(cb?: (err?: Error) => void): void {
    try {
      this.flushSync();
    } catch (err) {
      cb?.(err as Error);
      return;
    }
    cb?.();
  }
}
