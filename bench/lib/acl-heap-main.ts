/**
 * Child (run with --expose-gc): the heap an ACL of `entries` entries holds, per entry, and the
 * time of one lookup. The entries the ACL is built from stay alive across both measures, so
 * the difference is the ACL's own: its map, UID strings, records and keys (Buffer pool slabs
 * count through arrayBuffers).
 */
import { Acl } from '../../src/registry/acl.js';
import { childPayload, failChild, lifeline, toParent } from './child.js';
import { BENCH_GROUP, objectKey, objectUid } from './config.js';

const { entries: n } = childPayload<{ entries: number }>();
const gc = (globalThis as { gc?: () => void }).gc;

function held(): number {
  gc!();
  gc!();
  const u = process.memoryUsage();
  return u.heapUsed + u.arrayBuffers;
}

function main(): void {
  if (!gc) throw new Error('acl-heap-main needs --expose-gc');
  const entries = Array.from({ length: n }, (_, i) => ({ uid: objectUid(i), group: BENCH_GROUP, key: objectKey(i) }));
  // Fresh strings, as a handshake's decoded UID is: no lookup finds its key by identity.
  const probes = Array.from({ length: 1000 }, (_, i) => `o${(i * 7919) % n}`.slice(0));
  const before = held();
  const acl = Acl.from(entries, new Set([BENCH_GROUP]));
  if (Array.isArray(acl)) throw new Error(`bench ACL rejected: ${acl.length} problems`);
  const after = held();
  const rounds = 1000;
  let found = 0;
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) for (const uid of probes) if (acl.has(uid)) found++;
  const ns = ((performance.now() - t0) * 1e6) / (rounds * probes.length);
  toParent({ type: 'acl', bytesPerEntry: (after - before) / n, lookupNs: ns, found, size: acl.size, entries: entries.length });
}

lifeline(120_000);
process.on('message', (m: { type?: string }) => { if (m.type === 'stop') process.exit(0); });
try {
  main();
} catch (err) {
  failChild(err);
}
