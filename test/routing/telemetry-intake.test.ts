import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { Format, encodeDatagram, type Payload } from '../../src/protocol/index.js';
import { TokenRegistry, tokenKey, type TokenInfo } from '../../src/registry/token-registry.js';
import { ASK, MemoryTokenStore, type IssuedToken, type TokenStore } from '../../src/registry/token-store.js';
import type { Router } from '../../src/routing/router.js';
import { MAX_WAITING_DATAGRAMS, TelemetryIntake, type TelemetryDropReason } from '../../src/routing/telemetry-intake.js';

const peer = { address: '127.0.0.1', port: 9 };
const p = (s: string): Payload => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });
const token = (n: number) => { const b = Buffer.alloc(8); b.writeUInt32BE(n, 4); return b; };
const settle = () => new Promise((r) => setImmediate(r));

/**
 * A shared engine as the intake sees it: peek knows only what it cached, lookup answers when the
 * test says so (in any order), or fails (the engine away).
 */
class RemoteStore implements TokenStore {
  readonly cache = new Map<string, TokenInfo | undefined>();
  readonly asked: Array<{ key: string; answer(info: TokenInfo | undefined): void; fail(): void }> = [];
  peek(key: string): TokenInfo | undefined | typeof ASK {
    return this.cache.has(key) ? this.cache.get(key) : ASK;
  }
  lookup(key: string): Promise<TokenInfo | undefined> {
    return new Promise((resolve, reject) => {
      this.asked.push({
        key,
        answer: (info) => { this.cache.set(key, info); resolve(info); },
        fail: () => reject(new Error('Connection is closed.')),
      });
    });
  }
  issue(): Promise<IssuedToken | undefined> { return Promise.reject(new Error('not used')); }
  revoke(): Promise<number> { return Promise.resolve(0); }
  known(keys: readonly string[]): Promise<boolean[]> { return Promise.resolve(keys.map((k) => this.cache.get(k) !== undefined)); }
  get size(): Promise<number> { return Promise.resolve(this.cache.size); }
  close(): Promise<void> { return Promise.resolve(); }
}

/** The router's telemetry entry (its own tests cover the rest): records what reaches it. */
function intakeOn(store: TokenStore, opts: { maxPerSecPerToken?: number } = {}) {
  const routed: string[] = [];
  const dropped: TelemetryDropReason[] = [];
  const accepted: string[] = [];
  const router = { telemetry: (uid: string, payload: Payload) => { routed.push(`${uid}:${payload.data.toString()}`); return 'central'; } } as unknown as Router;
  const intake = new TelemetryIntake(store, router, new ManualClock(), { maxDatagramBytes: 1500, maxPerSecPerToken: opts.maxPerSecPerToken ?? 100 }, {
    accepted: (uid) => accepted.push(uid),
    dropped: (reason) => dropped.push(reason),
  });
  const send = (tk: Buffer, s: string) => intake.receive(encodeDatagram(tk, p(s)), peer);
  return { intake, routed, dropped, accepted, send };
}

const info = (uid: string): TokenInfo => ({ uid, group: 'G', expiresAt: Infinity });

t.test('a token peek does not know waits for lookup; each token\'s datagrams reach the router in arrival order, whatever order the store answers in', async (t) => {
  const store = new RemoteStore();
  const { intake, routed, dropped, accepted, send } = intakeOn(store);
  const a = token(1);
  const b = token(2);
  send(a, 'a1');
  send(a, 'a2');
  send(b, 'b1');
  send(a, 'a3');
  t.same(store.asked.map((x) => x.key), [tokenKey(a), tokenKey(b)], 'one lookup per token, not per datagram');
  t.equal(intake.waiting, 4);
  store.cache.set(tokenKey(a), info('obj-a')); // known now (another lookup cached it), but a1–a3 still wait
  send(a, 'a4');
  store.asked[1]!.answer(info('obj-b'));
  await settle();
  t.same(routed, ['obj-b:b1'], 'B answered first: B goes, A still waits');
  store.asked[0]!.answer(info('obj-a'));
  await settle();
  t.same(routed, ['obj-b:b1', 'obj-a:a1', 'obj-a:a2', 'obj-a:a3', 'obj-a:a4'], 'A in arrival order, a4 behind the ones that waited');
  t.same([accepted.length, dropped, intake.waiting], [5, [], 0]);
  send(a, 'a5');
  t.same(routed.at(-1), 'obj-a:a5', 'once cached, a datagram goes at once');
  t.equal(store.asked.length, 2, 'without another lookup');

  const c = token(3);
  send(c, 'c1');
  store.asked[2]!.answer(undefined);
  await settle();
  t.same(dropped, ['unknown-token'], 'a token the store does not know: dropped as unknown');
});

t.test('the rate limit applies to datagrams that waited too', async (t) => {
  const store = new RemoteStore();
  const { routed, dropped, send } = intakeOn(store, { maxPerSecPerToken: 2 });
  const a = token(1);
  for (let i = 0; i < 4; i++) send(a, `a${i}`);
  store.asked[0]!.answer(info('obj-a'));
  await settle();
  t.same([routed, dropped], [['obj-a:a0', 'obj-a:a1'], ['rate-limited', 'rate-limited']]);
});

t.test('a lookup that fails drops its waiting datagrams as token-store-unavailable; the next datagram asks again', async (t) => {
  const store = new RemoteStore();
  const { intake, routed, dropped, send } = intakeOn(store);
  const a = token(1);
  send(a, 'a1');
  send(a, 'a2');
  store.asked[0]!.fail();
  await settle();
  t.same([routed, dropped, intake.waiting], [[], ['token-store-unavailable', 'token-store-unavailable'], 0]);
  send(a, 'a3');
  t.equal(store.asked.length, 2, 'asked again: a failure is not cached');
  store.asked[1]!.answer(info('obj-a'));
  await settle();
  t.same(routed, ['obj-a:a3']);
});

t.test(`a flood of unknown tokens: at most ${MAX_WAITING_DATAGRAMS} datagrams wait for the store, the rest are dropped as token-store-busy`, async (t) => {
  const store = new RemoteStore();
  const { intake, routed, dropped, send } = intakeOn(store);
  const flood = MAX_WAITING_DATAGRAMS + 500;
  for (let i = 0; i < flood; i++) send(token(1000 + i), 'x');
  t.equal(store.asked.length, MAX_WAITING_DATAGRAMS, 'lookups in flight are bounded');
  t.equal(intake.waiting, MAX_WAITING_DATAGRAMS);
  send(token(1000), 'same token as a waiting one');
  t.same([dropped.length, new Set(dropped)], [501, new Set(['token-store-busy'])], 'the excess dropped, not queued');
  for (const x of store.asked) x.answer(undefined);
  await settle();
  t.equal(intake.waiting, 0, 'all answered');
  t.equal(dropped.filter((r) => r === 'unknown-token').length, MAX_WAITING_DATAGRAMS);
  store.cache.set(tokenKey(token(7)), info('obj-7'));
  send(token(7), 'after');
  t.same(routed, ['obj-7:after'], 'a valid token passes once the flood is answered');
});

t.test('the memory store answers on the synchronous path: no lookup, no promise per datagram', async (t) => {
  const clock = new ManualClock();
  let lookups = 0;
  class Counted extends MemoryTokenStore {
    override lookup(key: string, now: number) { lookups++; return super.lookup(key, now); }
  }
  const registry = new TokenRegistry(clock, 100);
  const { routed, dropped, send } = intakeOn(new Counted(registry));
  const issued = registry.issue('obj-1', 'G', 0)!;
  send(issued.token, 'now');
  send(token(99), 'unknown');
  t.same([routed, dropped, lookups], [['obj-1:now'], ['unknown-token'], 0], 'routed and dropped before receive() returned');
});
