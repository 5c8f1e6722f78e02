import t from 'tap';
import { pino } from 'pino';
import { LiveNodes } from '../../src/cluster/live-nodes.js';
import { NODE_PROTOCOLS } from '../../src/cluster/node-messages.js';
import type { NodeInfo } from '../../src/registry/node-registry.js';
import { LogSink } from '../helpers/daemon.js';

const info = (node: string, min: number, max: number, incarnation = 'i1'): NodeInfo => ({ node, incarnation, address: `${node}:1`, sessions: 0, protocol: max, protocols: { min, max } });
const r = (min: number, max: number) => ({ min, max });

t.test('each node is written the highest version both speak (a build that writes 1..2 in a cluster being upgraded)', async (t) => {
  const logs = new LogSink();
  const nodes = new LiveNodes('me', pino(logs), r(1, 2), r(1, 2));
  nodes.update([info('me', 1, 2), info('old', 1, 1), info('new', 1, 2)]);
  t.equal(nodes.versionFor('old'), 1);
  t.equal(nodes.versionFor('new'), 2);
  t.equal(nodes.versionFor('joined-since'), 1, 'a node not listed yet gets what every listed node speaks');
  t.same([...nodes.ids].sort(), ['me', 'new', 'old']);
  nodes.update([info('me', 1, 2), info('new', 1, 2)]);
  t.equal(nodes.versionFor('joined-since'), 2, 'once the old release is gone, the new version');
  t.same(logs.find('node-protocol-mismatch'), []);
});

t.test('a live node with no version in common (joined without the check) is logged once, naming it and both ranges', async (t) => {
  const logs = new LogSink();
  const nodes = new LiveNodes('me', pino(logs));
  const stray = { node: 'stray', incarnation: 'x', address: 'stray:1', sessions: 0, protocol: 7 };
  nodes.update([info('me', 1, 1), stray]);
  nodes.update([info('me', 1, 1), stray]);
  t.match(logs.find('node-protocol-mismatch'), [{ level: 50, node: 'me', protocols: { min: 1, max: 2 }, other: 'stray', otherAddress: 'stray:1', otherProtocols: { min: 7, max: 7 } }]);
});

t.test('this build writes only its own versions: a range claimed beyond them is refused, coded', async (t) => {
  const log = pino({ level: 'silent' });
  t.doesNotThrow(() => new LiveNodes('me', log).assertWritable());
  t.doesNotThrow(() => new LiveNodes('me', log, r(1, 1)).assertWritable(), 'a test may claim 1 (the previous release): it talks 1');
  t.doesNotThrow(() => new LiveNodes('me', log, r(2, 3)).assertWritable(), 'or 2..3: it talks 2');
  t.throws(() => new LiveNodes('me', log, r(3, 3)).assertWritable(), { code: 'ERR_IOTS_CLUSTER_PROTOCOL' });
  t.same(NODE_PROTOCOLS, r(1, 2), 'the versions of this build (2: a central-request carries its deadline)');
});
