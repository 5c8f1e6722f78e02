import type { Redis } from 'ioredis';
import { until } from './until.js';

/** Redis's `used_memory` (bytes) from INFO memory. */
export async function usedMemory(r: Redis): Promise<number> {
  const m = /^used_memory:(\d+)/m.exec(await r.info('memory'));
  if (!m) throw new Error('INFO memory has no used_memory');
  return Number(m[1]);
}

/** Every key under `prefix`, split by whether it has an expiry (PTTL ≥ 0) or none. */
export async function keysByExpiry(r: Redis, prefix: string): Promise<{ expiring: string[]; persistent: string[] }> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const ttls = await Promise.all(keys.map((k) => r.pttl(k)));
  const expiring: string[] = [];
  const persistent: string[] = [];
  keys.forEach((k, i) => {
    const ttl = ttls[i]!;
    if (ttl >= 0) expiring.push(k);
    else if (ttl === -1) persistent.push(k); // -2: gone between SCAN and PTTL
  });
  return { expiring: expiring.sort(), persistent: persistent.sort() };
}

export interface SessionsAudit {
  /** Keys without an expiry, and how many keys have one. */
  readonly persistentEnd: string[];
  readonly expiringEnd: number;
  /** Members left in the fleet's sessions index. */
  readonly sessionsLeft: number;
  /** Members of the fleet's token index (each lapses with its token). */
  readonly tokenIndex: number;
  readonly violations: string[];
}

/** Once every session of the fleet under `prefix` ended: waits (up to `ms`) for the sessions index to empty, then lists what is left. */
export async function auditAfterSessions(r: Redis, prefix: string, ms: number): Promise<SessionsAudit> {
  const sessions = `${prefix}sessions`;
  const violations: string[] = [];
  await until(async () => (await r.zcard(sessions)) === 0, 'every session entry gone from Redis after Close 0x01', ms)
    .catch(async () => violations.push(`sessions left in ${sessions} after every session ended: ${(await r.zrange(sessions, 0, -1)).join(', ')}`));
  const keys = await keysByExpiry(r, prefix);
  return { persistentEnd: keys.persistent, expiringEnd: keys.expiring.length, sessionsLeft: await r.zcard(sessions), tokenIndex: await r.zcard(`${prefix}tokens`), violations };
}
