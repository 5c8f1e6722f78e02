import t, { type Test } from 'tap';
import { ascii } from '../../src/client/index.js';
import { ToT, type Transmission } from '../../src/protocol/index.js';
import { InProcessNode } from '../helpers/cluster.js';
import { collect, echoObject } from '../helpers/recorders.js';
import { device } from '../helpers/daemon.js';
import { RedisServer } from '../helpers/redis.js';
import { redisRelay } from '../helpers/redis-relay.js';
import { until } from '../helpers/until.js';

// PROTOCOL §6 across nodes: a central on node a sends a request to an object on node b; a posts a
// `central-request` to b and waits, answering its caller 0xA1 at the request's timeout. When b
// reads that message only after the timeout (its inbox read held up: a Redis stall, a slow link),
// the request must not reach the object: its caller was told it timed out. The message carries its
// deadline (node protocol 2); a node of the previous release (1) gets the old form, without one.

const redis = await RedisServer.start(t);
let fleets = 0;

type Range = { min: number; max: number };

/** a (the central's node) sends b (the object's) a request that b reads after its timeout. `protocols`: a node of another release. */
async function lateRead(t: Test, protocols: { a?: Range; b?: Range } = {}) {
  const dev = device(`late-${++fleets}`);
  const rb = await redisRelay(t, redis);
  const over = (id: string, url?: string) => ({ cluster: { nodeId: id, keyPrefix: `late${fleets}:`, inbox: 'redis', commandTimeoutMs: 1_000, ...(url && { redis: url }) }, tcp: { requestTimeoutSec: 1 } });
  const a = await InProcessNode.start(t, redis, 'a', [dev], over('a'), protocols.a && { nodeProtocols: protocols.a });
  // b reads its inbox through the relay: the test holds those reads.
  const b = await InProcessNode.start(t, redis, 'b', [dev], over('b', rb.url), protocols.b && { nodeProtocols: protocols.b });
  const seen: Transmission[] = [];
  const central = await a.central();
  collect(central, seen);
  const { answered } = await echoObject(t, b.tcp, dev);
  await until(async () => (await a.daemon.internals.fleet!.engines.registry.live()).length === 2 && a.daemon.internals.fleet!.liveNodes.length === 2, 'a lists b');
  const ask = (tracking: number, s: string) => central.send({ type: ToT.REQUEST, uid: dev.uid, tracking, payload: ascii(s) });
  const answers = (tracking: number) => seen.flatMap((x) => (x.type === ToT.RESPONSE && x.tracking === tracking ? [[x.code, x.payload.data.toString()]] : []));
  ask(1, 'warm-up');
  await until(() => answers(1).length === 1, 'the warm-up answered');
  t.same(answers(1), [[0, 'echo warm-up']], 'the warm-up reached the object on b');

  rb.hold(); // b reads the next message late
  const started = performance.now();
  ask(2, 'late');
  await until(() => answers(2).length === 1, 'the caller answered at the timeout', 5_000);
  t.same(answers(2), [[0xa1, '']], `the caller is answered 0xA1 at its timeout (${Math.round(performance.now() - started)} ms)`);
  rb.release();
  return { a, b, answered, answers };
}

t.test('a central-request that its node reads after its deadline never reaches the object; its caller gets one 0xA1', async (t) => {
  const { b, answered, answers } = await lateRead(t);
  await until(async () => (await b.metric('iotsocket_cluster_messages_total', { kind: 'central-request', way: 'in' })) === 2, 'b reads the late message', 5_000);
  await new Promise((res) => setTimeout(res, 500)); // a delivery and its answer, if any, would come now
  t.same(answered, ['warm-up'], 'the object never got the request its caller was answered 0xA1 for');
  t.same(answers(2), [[0xa1, '']], 'and the caller got exactly one answer');
  t.equal(await b.metric('iotsocket_cluster_messages_expired_total', { kind: 'central-request' }), 1, 'b counts the expired message');
  t.match(b.logs.find('node-message-expired'), [{ level: 40, kind: 'central-request', count: 1 }], 'and logs it');
});

for (const old of ['b', 'a'] as const) {
  const what = old === 'b'
    ? 'to a node of the previous release (node protocol 1) the request goes in the old form'
    : 'from a node of the previous release the old form is read as before';
  t.test(`${what}: read late, it is still delivered (no deadline in it), its answer dropped at the origin`, async (t) => {
    const { a, b, answered, answers } = await lateRead(t, { [old]: { min: 1, max: 1 } });
    await until(() => answered.length === 2, 'the old form, read late, reaches the object (no deadline in it)', 5_000);
    await until(async () => (await a.metric('iotsocket_cluster_messages_total', { kind: 'origin-response', way: 'in' })) === 2, 'its answer comes back to a', 5_000);
    await new Promise((res) => setTimeout(res, 200));
    t.same(answers(2), [[0xa1, '']], 'the caller still got exactly one answer (the late one is dropped)');
    t.equal(await b.metric('iotsocket_cluster_messages_expired_total', { kind: 'central-request' }), 0);
    t.same([...a.logs.find('node-message-unreadable'), ...b.logs.find('node-message-unreadable')], [], 'no message unreadable on either side');
  });
}
