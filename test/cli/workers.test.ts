import t from 'tap';
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';
import { NODE_ID_PATTERN } from '../../src/config/cluster.js';
import { parseWorkers, workerConfig, workerIdentity, workerNodeId } from '../../src/cli/workers.js';
import { testConfig } from '../helpers/config.js';

const CLUSTER = { redis: 'redis://127.0.0.1:1', nodeId: 'gw', keyPrefix: 'iotsocket:', commandTimeoutMs: 1000, heartbeatSec: 3, leaseSec: 7 };

t.test('parseWorkers: auto is the available parallelism; 1..64 as given; anything else is refused', async (t) => {
  t.equal(parseWorkers('auto'), Math.min(64, availableParallelism()));
  t.equal(parseWorkers('1'), 1);
  t.equal(parseWorkers('64'), 64);
  for (const bad of ['0', '65', '-1', '2.0', ' 2', '', 'x']) t.throws(() => parseWorkers(bad), InvalidArgumentError, `refused: ${JSON.stringify(bad)}`);
});

t.test('workerNodeId: <base>-<i>, a long base shortened so the id stays valid', async (t) => {
  t.equal(workerNodeId('gw', 3), 'gw-3');
  const long = workerNodeId('x'.repeat(64), 12);
  t.equal(long, `${'x'.repeat(61)}-12`);
  t.match(long, NODE_ID_PATTERN);
});

t.test('workerConfig: its own node id; a fixed admin port offset by the index, port 0 kept shared', async (t) => {
  const base = testConfig(t, { cluster: CLUSTER, admin: { host: '127.0.0.1', port: 9100 } });
  const c = workerConfig(base, { index: 3, nodeId: 'gw-3' });
  t.equal(c.cluster?.nodeId, 'gw-3');
  t.equal(c.admin?.port, 9102, 'worker 3: admin.port + 2');
  t.equal(c.tcp, base.tcp, 'the rest is the same config');
  t.ok(Object.isFrozen(c));
  const zero = workerConfig(testConfig(t, { cluster: CLUSTER, admin: { host: '127.0.0.1', port: 0 } }), { index: 2, nodeId: 'gw-2' });
  t.equal(zero.admin?.port, 0);
  t.throws(() => workerConfig(testConfig(t), { index: 1, nodeId: 'a-1' }), /config\.cluster/);
});

t.test('workerIdentity: none outside a node:cluster worker, whatever the environment says', async (t) => {
  t.equal(workerIdentity({ IOTS_WORKER_INDEX: '1', IOTS_WORKER_NODE_ID: 'a-1' }), undefined);
});
