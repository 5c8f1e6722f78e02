import t, { type Test } from 'tap';
import { createConnection } from 'node:net';
import { pino } from 'pino';
import { CentralClient, ObjectClient, ascii } from '../../src/client/index.js';
import { encodeNodeMessage } from '../../src/cluster/node-messages.js';
import { createConcentrator } from '../../src/daemon.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { packBatch } from '../../src/registry/node-inbox.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { clusterKey } from '../helpers/cluster.js';
import { LogSink, device, startDaemon } from '../helpers/daemon.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

// Rolling upgrades (issue 12 §4): each node announces the node-protocol versions it speaks; a
// node of another release is injected as one that announces another range (nodeProtocols).

const dev = device('mixed-1');
const redis = await RedisServer.start(t);
let prefixes = 0;

function nodeConfig(t: Test, prefix: string, id: string) {
  return testConfig(t, { cluster: clusterKey(redis, id, { keyPrefix: prefix }), http: { enabled: true } });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

t.test('a node speaking only 2 is refused by a cluster of 1 (coded, logged naming the other node and versions, nothing bound); one speaking 1..2 joins and talks 1', async (t) => {
  const prefix = `mv${++prefixes}:`;
  // a: a node of the previous release (it speaks only 1).
  const a = await startDaemon(t, nodeConfig(t, prefix, 'a'), [dev], { logLevel: 'warn', deps: { nodeProtocols: { min: 1, max: 1 } } });
  const newer = nodeConfig(t, prefix, 'c');
  const refused = await startDaemon(t, newer, [dev], { logLevel: 'warn', deps: { nodeProtocols: { min: 2, max: 2 } } }).then(() => undefined, (err: unknown) => err);
  t.match(refused, {
    code: 'ERR_IOTS_CLUSTER_PROTOCOL', node: 'c', own: { min: 2, max: 2 }, other: { node: 'a', protocols: { min: 1, max: 1 } },
    message: /^node c speaks node protocol 2 and cannot join: live node a \(127\.0\.0\.1:\d+\) speaks 1; /,
  }, 'start rejects with the coded error');
  const r = redis.client(t);
  const keys = new RedisKeys(prefix);
  t.same(Object.keys(await r.hgetall(keys.nodeList)), ['a'], 'c never announced itself');

  // Its log says so (the CLI prints the same message and exits 2: test/cli/cluster-protocol-exit.test.ts).
  const logs = new LogSink();
  const again = createConcentrator(nodeConfig(t, prefix, 'c2'), { logger: pino({ level: 'warn' }, logs), nodeProtocols: { min: 2, max: 2 } });
  t.teardown(() => again.close());
  await t.rejects(again.start(), { code: 'ERR_IOTS_CLUSTER_PROTOCOL' });
  t.match(logs.find('node-protocol-mismatch'), [{ level: 50, node: 'c2', protocols: { min: 2, max: 2 }, other: 'a', otherProtocols: { min: 1, max: 1 } }]);
  t.equal(again.addresses, undefined, 'refused before binding any port');

  const b = await startDaemon(t, nodeConfig(t, prefix, 'b'), [dev], { logLevel: 'warn' }); // this release: 1..2
  t.match(JSON.parse((await r.hget(keys.nodeList, 'b'))!), { protocol: 2, protocols: { min: 1, max: 2 } }, 'b announces 1..2');
  // A central on b, the object on a: b must write 1 to a, or a would drop its messages.
  const obj = new ObjectClient({ host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key, handler: (q) => ({ code: 0, payload: ascii(`a saw ${q.payload.data}`) }) });
  const central = new CentralClient({ host: '127.0.0.1', port: b.port, key: CENTRAL_KEY, handler: () => ({ code: 0, payload: ascii('b central') }) });
  t.teardown(() => { obj.destroy(); central.destroy(); });
  await obj.connect();
  await central.connect();
  const res = await central.request(dev.uid, ascii('hi'));
  t.same([res.code, res.payload.data.toString()], [0, 'a saw hi'], 'a request from b reaches a and its answer comes back');
  const up = await obj.request(ascii('up'));
  t.same([up.code, up.payload.data.toString()], [0, 'b central'], 'and the other way');
  t.same([...a.logs.find('node-message-unreadable'), ...b.logs.find('node-message-unreadable')], [], 'no message was dropped on either side');
  t.ok(await portOpen(b.port), 'b serves');
});

t.test('a message of a version this node does not speak, received anyway, is logged and dropped; the node goes on', async (t) => {
  const prefix = `mv${++prefixes}:`;
  // The stream inbox, so the test can write into it directly (a link would first have to authenticate).
  const a = await startDaemon(t, testConfig(t, { cluster: clusterKey(redis, 'a', { keyPrefix: prefix, inbox: 'redis' }), http: { enabled: true } }), [dev], { logLevel: 'warn' });
  const good = encodeNodeMessage({ kind: 'moved', uid: dev.uid });
  const v3 = Buffer.from(good);
  v3[0] = 3;
  const r = redis.client(t);
  await r.xadd(new RedisKeys(prefix).inbox('a'), '*', 'b', packBatch([v3, good]));
  await until(() => a.logs.find('node-message-unreadable').length > 0, 'a logs the unreadable message', 3_000);
  t.match(a.logs.find('node-message-unreadable'), [{ level: 50, err: 'node message of protocol 3; this node speaks 1..2', count: 1 }]);
  await until(async () => (await a.daemon.internals.metrics.value('iotsocket_cluster_messages_total', { kind: 'moved', way: 'in' })) === 1, 'the v1 message in the same batch is handled', 3_000);
  const obj = new ObjectClient({ host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key });
  t.teardown(() => obj.destroy());
  await obj.connect();
  t.ok(a.daemon.internals.sessions.get(dev.uid), 'the node still takes sessions');
});
