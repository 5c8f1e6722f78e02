import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { ToT } from '../../src/protocol/index.js';
import { Session } from '../../src/registry/session.js';
import { BufferBudget, OfflineBuffer } from '../../src/registry/offline-buffer.js';
import { TokenRegistry, tokenKey } from '../../src/registry/token-registry.js';
import { TOKEN_RETRY_MS, TokenIssuer } from '../../src/session/token-issuer.js';
import { MemoryLink } from '../helpers/memory-link.js';

const groups = { Devices: { telemetry: true, telemetryTokenExpMin: 10 }, Forever: { telemetry: true, telemetryTokenExpMin: 0 }, Stations: { telemetry: false, telemetryTokenExpMin: 10 } };

function session(uid: string, group: string, link: MemoryLink, clock: ManualClock): Session {
  return new Session(uid, 'object', group, link, new OfflineBuffer(10, 1000, new BufferBudget(1 << 20)), clock.now());
}

t.test('a token on authentication, renewed at 80 % of its lifetime while the same connection lasts', async (t) => {
  const clock = new ManualClock();
  const tokens = new TokenRegistry(clock, 100);
  const issuer = new TokenIssuer(tokens, clock, { groups }, { refused: () => t.fail('not full') });
  const link = new MemoryLink();
  const s = session('d-1', 'Devices', link, clock);
  issuer.issue(s, link);
  t.equal(link.of(ToT.TOKEN).length, 1);
  const first = link.of(ToT.TOKEN)[0]!.token;
  t.equal(tokens.lookup(tokenKey(first))?.uid, 'd-1');
  clock.advance(8 * 60_000 - 1);
  t.equal(link.of(ToT.TOKEN).length, 1, 'not before 80 %');
  clock.advance(1);
  t.equal(link.of(ToT.TOKEN).length, 2, 'renewed at 80 %');
  t.ok(tokens.lookup(tokenKey(first)), 'the old one stays valid until its own expiry');
  s.link = undefined; // the connection went
  clock.advance(8 * 60_000);
  t.equal(link.of(ToT.TOKEN).length, 2, 'no renewal for a connection that is gone');
});

t.test('no token for a group without telemetry, nor for the central; no renewal timer for a token that never expires', async (t) => {
  const clock = new ManualClock();
  const issuer = new TokenIssuer(new TokenRegistry(clock, 100), clock, { groups }, { refused: () => {} });
  const station = new MemoryLink();
  issuer.issue(session('s-1', 'Stations', station, clock), station);
  const forever = new MemoryLink();
  issuer.issue(session('f-1', 'Forever', forever, clock), forever);
  t.same([station.sent.length, forever.of(ToT.TOKEN).length, clock.pending], [0, 1, 0]);
});

t.test('a full registry: no token, the refusal reported, a retry a minute later that succeeds once there is room', async (t) => {
  const clock = new ManualClock();
  const tokens = new TokenRegistry(clock, 1);
  const refused: Array<[string, number]> = [];
  const issuer = new TokenIssuer(tokens, clock, { groups }, { refused: (uid, held) => refused.push([uid, held]) });
  const a = new MemoryLink();
  issuer.issue(session('a', 'Forever', a, clock), a);
  const b = new MemoryLink();
  issuer.issue(session('b', 'Forever', b, clock), b);
  t.same([b.sent.length, refused], [0, [['b', 1]]]);
  tokens.revoke('a');
  clock.advance(TOKEN_RETRY_MS);
  t.equal(b.of(ToT.TOKEN).length, 1, 'issued on the retry');
});
