import type { Redis } from 'ioredis';

/**
 * Whether a failed command may still have been applied by Redis. A command connection has no
 * offline queue: while it is not ready, ioredis refuses every command without writing it; and an
 * error reply means Redis did not run it. Anything else — a command timeout, a connection closed
 * with the command written — leaves it unknown: Redis may have run it (and made it durable) and
 * only its answer was lost. `readyAtSend`: the connection's status was 'ready' when it was sent.
 */
export function outcomeUnknown(readyAtSend: boolean, err: unknown): boolean {
  if (!readyAtSend) return false;
  if (!(err instanceof Error)) return true;
  return err.name !== 'ReplyError' && !err.message.startsWith("Stream isn't writeable");
}

/** The connection is ready: a command sent now is written at once. */
export function readyToSend(conn: Redis): boolean {
  return conn.status === 'ready';
}

/** What made a Redis command fail, in an operator's words: an error reply, no answer in time, or no connection. */
export function redisFailureCause(err: unknown): 'redis-error' | 'command-timeout' | 'redis-unreachable' {
  if (err instanceof Error && err.name === 'ReplyError') return 'redis-error';
  // ioredis's commandTimeout rejects with "Command timed out".
  if (err instanceof Error && /timed out/i.test(err.message)) return 'command-timeout';
  return 'redis-unreachable';
}
