import { readFileSync } from 'node:fs';
import type { Config } from '../config/types.js';

/**
 * The soft limit on open files (Linux: /proc/self/limits), or undefined elsewhere. Running out
 * of descriptors is invisible to the daemon (libuv closes the pending clients itself), so the
 * start warns when the limit cannot hold what the config allows (descriptorsNeeded).
 */
export function openFilesLimit(procLimits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(procLimits, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/** Listeners, the ACL and log files, stdio and libuv's own descriptors, with room to spare. */
const FD_BASE = 100;

/**
 * Descriptors the daemon may hold at once under `config`: one per TCP session, one per held
 * HTTP request (each is an open connection), the webhook pools (one per hook and origin,
 * `connections` sockets each), and a base. What `LimitNOFILE` must cover.
 */
export function descriptorsNeeded(config: Config): { total: number; tcp: number; http: number; webhooks: number; base: number } {
  const w = config.central.webhooks;
  const hooks = [w.request, w.telemetry, w.presence].filter((u) => u !== undefined).length;
  const parts = {
    tcp: config.tcp.maxConnections,
    http: config.http.enabled ? config.http.maxHeldRequests : 0,
    webhooks: hooks * w.connections,
    base: FD_BASE,
  };
  return { total: parts.tcp + parts.http + parts.webhooks + parts.base, ...parts };
}
