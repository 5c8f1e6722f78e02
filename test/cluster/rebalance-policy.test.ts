import t from 'tap';
import { candidates, place, type PeerLoad } from '../../src/cluster/rebalance-policy.js';

const ON = { enabled: true, threshold: 1.1, floor: 10 };
const peer = (node: string, sessions: number, over: Partial<PeerLoad> = {}): PeerLoad =>
  ({ node, sessions, draining: false, advertise: { host: `${node}.example`, port: 7000 }, ...over });
const own = (sessions: number, draining = false) => ({ node: 'a', sessions, draining });

t.test('draining: every new client goes to the least loaded live node that takes sessions', async (t) => {
  const peers = [peer('a', 0), peer('b', 50), peer('c', 20), peer('d', 5, { draining: true }), peer('e', 1, { advertise: undefined })];
  t.same(place(own(900, true), peers, ON), { action: 'redirect', node: 'c', to: { host: 'c.example', port: 7000 }, reason: 'draining' },
    'not itself, not a draining node, not one without an address');
  t.same(place(own(900, true), peers, { ...ON, enabled: false }), { action: 'redirect', node: 'c', to: { host: 'c.example', port: 7000 }, reason: 'draining' },
    'whether rebalancing is on or not, and whatever the floor');
  t.same(place(own(3, true), [peer('a', 0), peer('d', 0, { draining: true })], ON), { action: 'refuse', reason: 'draining' }, 'no node to go to: refused (OK=0, no rule)');
  t.same(place(own(3, true), [], ON), { action: 'refuse', reason: 'draining' });
});

t.test('rebalance: redirects only above threshold × mean AND above the floor', async (t) => {
  // mean of (a 120, b 80, c 100) = 100: a is above 1.1 × 100
  t.same(place(own(120), [peer('b', 80), peer('c', 100)], ON), { action: 'redirect', node: 'b', to: { host: 'b.example', port: 7000 }, reason: 'rebalance' });
  t.same(place(own(110), [peer('b', 90), peer('c', 100)], ON), { action: 'accept' }, 'exactly threshold × mean (110 = 1.1 × 100): accepted');
  t.same(place(own(111), [peer('b', 89), peer('c', 100)], ON), { action: 'redirect', node: 'b', to: { host: 'b.example', port: 7000 }, reason: 'rebalance' }, 'just above');
  t.same(place(own(9), [peer('b', 0)], ON), { action: 'accept' }, 'below the floor: never redirected, however uneven');
  t.same(place(own(10), [peer('b', 0)], ON), { action: 'accept' }, 'at the floor');
  t.same(place(own(11), [peer('b', 0)], ON).action, 'redirect', 'above the floor');
  t.same(place(own(500), [peer('b', 0)], { ...ON, enabled: false }), { action: 'accept' }, 'off: always accepted');
});

t.test('rebalance ignores draining and unreachable peers, and never redirects to a node at least as loaded', async (t) => {
  t.same(place(own(100), [peer('b', 0, { draining: true }), peer('c', 0, { advertise: undefined })], ON), { action: 'accept' }, 'no candidate');
  // A draining node's falling load does not pull the mean down: mean of (a 100, c 60) = 80
  t.same(place(own(100), [peer('b', 0, { draining: true }), peer('c', 60)], ON).action, 'redirect');
  t.same(place(own(100), [peer('b', 0, { draining: true }), peer('c', 95)], ON).action, 'accept', 'mean 97.5: not above 1.1 ×');
  t.same(place(own(100), [peer('a', 0)], ON), { action: 'accept' }, 'its own entry in the peers is not a candidate');
});

t.test('candidates: least loaded first, ties broken by node id (every node picks the same)', async (t) => {
  t.same(candidates('a', [peer('d', 3), peer('c', 3), peer('b', 7), peer('a', 0)]).map((p) => p.node), ['c', 'd', 'b']);
});
