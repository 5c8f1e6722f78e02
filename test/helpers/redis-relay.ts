import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import type { RedisServer } from './redis.js';

/** What a test does with a RedisRelay: its URL for one node's `cluster.redis`, and the faults it injects. */
export interface RedisRelay {
  readonly url: string;
  /** The connection that next sends an XADD has the reply carrying its entry id swallowed and is cut, as a Redis killed after writing it. */
  arm(): void;
  /** What Redis sends the connections that read the inbox (XREAD) waits in the relay: the node reads its inbox late. */
  hold(): void;
  /** Lets what was held through, in order; replies pass again. */
  release(): void;
  /** XADDs cut so far. */
  readonly cuts: number;
}

/**
 * A relay in front of `redis` for one node (its `cluster.redis` is the relay's URL): a node's
 * post Redis wrote but never acknowledged, or an inbox read that comes late (a slow link, a stall).
 */
export async function redisRelay(t: { teardown(fn: () => unknown): void }, redis: RedisServer): Promise<RedisRelay> {
  let armed = false;
  let held = false;
  let cuts = 0;
  const releases: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(redis.port, '127.0.0.1');
    for (const s of [client, upstream]) { sockets.add(s); s.on('error', () => {}); s.once('close', () => sockets.delete(s)); }
    let cutOnReply = false;
    let reader = false;
    let waiting: Buffer[] = [];
    client.on('data', (b: Buffer) => {
      const text = b.toString('latin1');
      if (/xread/i.test(text)) reader = true;
      if (armed && /xadd/i.test(text)) { armed = false; cutOnReply = true; }
      upstream.write(b);
    });
    releases.push(() => { for (const b of waiting) client.write(b); waiting = []; });
    upstream.on('data', (reply: Buffer) => {
      // The XADD's answer is its entry id (ms-seq): Redis wrote it. Earlier replies pass.
      if (cutOnReply && /\$\d+\r\n\d{10,}-\d+\r\n/.test(reply.toString('latin1'))) {
        cuts++;
        client.destroy();
        upstream.destroy();
      } else if (held && reader) waiting.push(reply);
      else client.write(reply);
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arm: () => { armed = true; },
    hold: () => { held = true; },
    release: () => { held = false; for (const r of releases) r(); },
    get cuts() { return cuts; },
  };
}
