import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';

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
  return new (ioredis().Redis)(e.url, { ...common(name), ...e.auth, commandTimeout: e.commandTimeoutMs, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
}

/** A connection for blocking reads (XREAD BLOCK): no command timeout, commands wait for the reconnect. */
export function blockingConnection(e: RedisEndpoint, name: string): Redis {
  return new (ioredis().Redis)(e.url, { ...common(name), ...e.auth, enableOfflineQueue: true, maxRetriesPerRequest: null });
}

function common(name: string): RedisOptions {
  return {
    connectionName: name,
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 5), 1000),
    reconnectOnError: () => false,
  };
}

let loaded: typeof import('ioredis') | undefined;

/**
 * ioredis, loaded by the first connection made: only a cluster node makes one, so a daemon
 * without `cluster` never loads it (~10 MiB of RSS at start, issue 14). Loaded synchronously
 * (ioredis is CommonJS) because the connections are made while the daemon is wired, and
 * `createConcentrator` is synchronous. Bundled into CommonJS (the single executable,
 * scripts/build-sea.mjs), `require` is defined and esbuild bundles the literal require below;
 * run as ES modules, it is not, and a require made for this file loads the package.
 */
function ioredis(): typeof import('ioredis') {
  return (loaded ??= typeof require === 'function'
    ? require('ioredis') as typeof import('ioredis')
    : createRequire(import.meta.url)('ioredis') as typeof import('ioredis'));
}
