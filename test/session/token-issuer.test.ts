import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { ToT } from '../../src/protocol/index.js';
import { Session } from '../../src/registry/session.js';
import { BufferBudget, OfflineBuffer } from '../../src/registry/offline-buffer.js';
import { TokenRegistry, tokenKey } from '../../src/registry/token-registry.js';
import { MemoryTokenStore, type IssuedToken, type TokenStore } from '../../src/registry/token-store.js';
import { TOKEN_RETRY_MS, TokenIssuer, UNAVAILABLE_RETRY_MAX_MS, UNAVAILABLE_RETRY_MS } from '../../src/session/token-issuer.js';
import { MemoryLink } from '../helpers/memory-link.js';

const groups = { Devices: { telemetry: true, telemetryTokenExpMin: 10 }, Forever: { telemetry: true, telemetryTokenExpMin: 0 }, Stations: { telemetry: false, telemetryTokenExpMin: 10 } };
const noEvents = { refused: () => {}, unavailable: () => {} };

function session(uid: string, group: string, link: MemoryLink, clock: ManualClock): Session {
  return new Session(uid, 'object', group, link, new OfflineBuffer(10, 1000, new BufferBudget(1 << 20)), clock.now());
}

/** Lets the store's answers (promises) settle. */
const settle = () => new Promise((r) => setImmediate(r));

/** A memory store whose issues wait until the test lets them go (or fail them: the engine away). */
class HeldStore extends MemoryTokenStore {
  readonly held: Array<{ go(): void; fail(err: Error): void }> = [];
  override issue(uid: string, group: string, lifetimeMs: number): Promise<IssuedToken | undefined> {
    return new Promise((resolve, reject) => {
      this.held.push({ go: () => resolve(super.issue(uid, group, lifetimeMs)), fail: reject });
    });
  }
}

t.test('a token on authentication, renewed at 80 % of its lifetime while the same connection lasts', async (t) => {
  const clock = new ManualClock();
  const tokens = new MemoryTokenStore(new TokenRegistry(clock, 100));
  const issuer = new TokenIssuer(tokens, clock, { groups }, { refused: () => t.fail('not full'), unavailable: () => t.fail('not away') });
  const link = new MemoryLink();
  const s = session('d-1', 'Devices', link, clock);
  issuer.issue(s, link);
  await settle();
  t.equal(link.of(ToT.TOKEN).length, 1);
  const first = link.of(ToT.TOKEN)[0]!.token;
  t.equal(tokens.peek(tokenKey(first), clock.now())?.uid, 'd-1');
  clock.advance(8 * 60_000 - 1);
  await settle();
  t.equal(link.of(ToT.TOKEN).length, 1, 'not before 80 %');
  clock.advance(1);
  await settle();
  t.equal(link.of(ToT.TOKEN).length, 2, 'renewed at 80 %');
  t.ok(tokens.peek(tokenKey(first), clock.now()), 'the old one stays valid until its own expiry');
  s.link = undefined; // the connection went
  clock.advance(8 * 60_000);
  await settle();
  t.equal(link.of(ToT.TOKEN).length, 2, 'no renewal for a connection that is gone');
});

t.test('no token for a group without telemetry, nor for the central; no renewal timer for a token that never expires', async (t) => {
  const clock = new ManualClock();
  const issuer = new TokenIssuer(new MemoryTokenStore(new TokenRegistry(clock, 100)), clock, { groups }, noEvents);
  const station = new MemoryLink();
  issuer.issue(session('s-1', 'Stations', station, clock), station);
  const forever = new MemoryLink();
  issuer.issue(session('f-1', 'Forever', forever, clock), forever);
  await settle();
  t.same([station.sent.length, forever.of(ToT.TOKEN).length, clock.pending], [0, 1, 0]);
});

t.test('a full store: no token, the refusal reported, a retry a minute later that succeeds once there is room', async (t) => {
  const clock = new ManualClock();
  const tokens = new MemoryTokenStore(new TokenRegistry(clock, 1));
  const refused: Array<[string, number | undefined]> = [];
  const issuer = new TokenIssuer(tokens, clock, { groups }, { refused: (uid, held) => refused.push([uid, held]), unavailable: () => t.fail('not away') });
  const a = new MemoryLink();
  issuer.issue(session('a', 'Forever', a, clock), a);
  const b = new MemoryLink();
  issuer.issue(session('b', 'Forever', b, clock), b);
  await settle();
  t.same([b.sent.length, refused], [0, [['b', 1]]]);
  await tokens.revoke('a');
  clock.advance(TOKEN_RETRY_MS);
  await settle();
  t.equal(b.of(ToT.TOKEN).length, 1, 'issued on the retry');
});

t.test('an issue answered after the connection closed: nothing sent to it, no timer left', async (t) => {
  const clock = new ManualClock();
  const tokens = new HeldStore(new TokenRegistry(clock, 100));
  const issuer = new TokenIssuer(tokens, clock, { groups }, { refused: () => t.fail('not full'), unavailable: () => t.fail('not away') });
  const link = new MemoryLink();
  const s = session('d-1', 'Devices', link, clock);
  issuer.issue(s, link);
  s.link = undefined; // closed while the store was busy
  s.state = 'kept';
  tokens.held[0]!.go();
  await settle();
  t.same([link.sent.length, clock.pending, s.tokenTimer], [0, 0, undefined], 'no ToT 5, no renewal timer');

  // The object came back on a new connection meanwhile: only the new one gets a token.
  const again = new MemoryLink();
  issuer.issue(s, link); // the old connection's issue, still in flight
  s.link = again;
  s.state = 'connected';
  issuer.issue(s, again);
  tokens.held[2]!.go();
  tokens.held[1]!.go();
  await settle();
  t.same([link.sent.length, again.of(ToT.TOKEN).length, clock.pending], [0, 1, 1], 'one token, to the current connection, one renewal timer');
});

t.test('a store that is away: no token, reported once per outage, retried within a second and then backing off, no unhandled rejection', async (t) => {
  const clock = new ManualClock();
  const tokens = new HeldStore(new TokenRegistry(clock, 100));
  const away: string[] = [];
  const issuer = new TokenIssuer(tokens, clock, { groups }, { refused: () => t.fail('not full'), unavailable: (uid) => away.push(uid) });
  const a = new MemoryLink();
  const b = new MemoryLink();
  issuer.issue(session('a', 'Forever', a, clock), a);
  issuer.issue(session('b', 'Forever', b, clock), b);
  tokens.held[0]!.fail(new Error('Connection is closed.'));
  tokens.held[1]!.fail(new Error('Connection is closed.'));
  await settle();
  t.same([a.sent.length, b.sent.length, away, clock.pending], [0, 0, ['a'], 2], 'nothing sent, one report, both retried later');
  // Not TOKEN_RETRY_MS: a renewal missed while the store was away must land before the old token expires.
  clock.advance(UNAVAILABLE_RETRY_MS - 1);
  t.equal(tokens.held.length, 2, 'not retried before UNAVAILABLE_RETRY_MS');
  clock.advance(1);
  t.equal(tokens.held.length, 4, 'both tried again after UNAVAILABLE_RETRY_MS');
  tokens.held[2]!.go();
  await settle();
  tokens.held[3]!.fail(new Error('Connection is closed.'));
  await settle();
  t.same([a.of(ToT.TOKEN).length, b.sent.length, away], [1, 0, ['a', 'b']], 'issued once it answers; a new outage is reported again');
  clock.advance(2 * UNAVAILABLE_RETRY_MS - 1);
  t.equal(tokens.held.length, 4, 'a second failure in a row waits twice as long');
  clock.advance(1);
  t.equal(tokens.held.length, 5, 'and b is tried again');
  for (let i = 0; i < 6; i++) {
    tokens.held.at(-1)!.fail(new Error('Connection is closed.'));
    await settle();
    clock.advance(UNAVAILABLE_RETRY_MAX_MS);
  }
  t.equal(tokens.held.length, 11, `the wait stops growing at UNAVAILABLE_RETRY_MAX_MS (${UNAVAILABLE_RETRY_MAX_MS} ms)`);
});

t.test('verify(): once the store is back, an object whose token it lost gets a new one, one whose issue failed is tried at once', async (t) => {
  const clock = new ManualClock();
  const tokens = new HeldStore(new TokenRegistry(clock, 100));
  const reissued: number[] = [];
  const issuer = new TokenIssuer(tokens, clock, { groups }, { refused: () => t.fail('not full'), unavailable: () => {}, reissued: (n) => reissued.push(n) });
  const [a, b, c] = [new MemoryLink(), new MemoryLink(), new MemoryLink()];
  const [sa, sb, sc] = [session('a', 'Devices', a, clock), session('b', 'Devices', b, clock), session('c', 'Devices', c, clock)];
  for (const [s, l] of [[sa, a], [sb, b], [sc, c]] as const) issuer.issue(s, l);
  tokens.held[0]!.go();
  tokens.held[1]!.go();
  tokens.held[2]!.fail(new Error('Connection is closed.'));
  await settle();
  t.same([a.of(ToT.TOKEN).length, b.of(ToT.TOKEN).length, c.sent.length], [1, 1, 0]);
  await tokens.revoke('a'); // as a Redis restart that lost a's token
  await issuer.verify([sa, sb, sc]);
  t.equal(tokens.held.length, 5, 'c tried at once (not at its retry timer), a issued anew; b, whose token is known, not');
  tokens.held[3]!.go();
  tokens.held[4]!.go();
  await settle();
  t.same([a.of(ToT.TOKEN).length, b.of(ToT.TOKEN).length, c.of(ToT.TOKEN).length, reissued], [2, 1, 1, [1]], 'a got a second token, c its first');
  await issuer.verify([sa, sb, sc]);
  t.equal(tokens.held.length, 5, 'a second check finds every token known');
});
