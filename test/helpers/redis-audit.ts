import type { Redis } from 'ioredis';

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
