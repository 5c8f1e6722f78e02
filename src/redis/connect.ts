import { Redis, type RedisOptions } from 'ioredis';

export interface RedisEndpoint {
  /** redis:// or rediss:// URL (user, password and db as in the URL). */
  readonly url: string;
  /** Reject a command that got no answer in this time: a hung Redis must not hang a request. */
  readonly commandTimeoutMs: number;
  /** Credentials and TLS that do not belong in the URL (a password from a file, a CA); the URL then holds none, as ioredis prefers the URL's. */
  readonly auth?: Pick<RedisOptions, 'username' | 'password' | 'tls'>;
}

/**
 * A command connection that fails fast while Redis is away (no offline queue: a command is
 * rejected at once, CLUSTER.md guarantee 8) and reconnects by itself, backing off to 1 s.
 */
export function commandConnection(e: RedisEndpoint, name: string): Redis {
  return new Redis(e.url, { ...common(name), ...e.auth, commandTimeout: e.commandTimeoutMs, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
}

/** A connection for blocking reads (XREAD BLOCK): no command timeout, commands wait for the reconnect. */
export function blockingConnection(e: RedisEndpoint, name: string): Redis {
  return new Redis(e.url, { ...common(name), ...e.auth, enableOfflineQueue: true, maxRetriesPerRequest: null });
}

function common(name: string): RedisOptions {
  return {
    connectionName: name,
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 5), 1000),
    reconnectOnError: () => false,
  };
}
