import t, { type Test } from 'tap';
import { encodeNodeMessage } from '../../src/cluster/node-messages.js';
import { CloseCode, ToT } from '../../src/protocol/index.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { packBatch } from '../../src/registry/node-inbox.js';
import { InProcessNode } from '../helpers/cluster.js';
import { device } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

// A session claim that Redis answers too late (commandTimeoutMs), as a hung Redis does: the
// handshake is refused (OK, PROTOCOL §3 step 6: 0x00) — and says why in the log — and, since Redis
// may still apply the claim once it answers again, the node follows it with a compensating keep
// fenced by that claim: no entry is left saying "connected" at a node that holds no connection.

const redis = await RedisServer.start(t);
let fleets = 0;

async function hungClaim(t: Test) {
  const dev = device(`ct-${++fleets}`);
  const node = await InProcessNode.start(t, redis, 'a', [dev], { cluster: { keyPrefix: `ct${fleets}:`, commandTimeoutMs: 300 } });
  const fleet = node.daemon.internals.fleet!;
  t.teardown(() => redis.unpause());
  redis.pause(); // the node is still live: its next heartbeat is up to a second away
  const { accepted, client } = await RawClient.open(node.tcp, dev.uid, dev.key);
  t.notOk(accepted, 'the handshake is refused while Redis does not answer');
  client.close();
  return { dev, node, fleet };
}

t.test('a refused claim logs its cause at warn, with the UID', async (t) => {
  const { dev, node } = await hungClaim(t);
  redis.unpause();
  const line = node.logs.find('handshake-refused').find((l) => l.uid === dev.uid);
  t.ok(line, 'the refusal is logged');
  t.match(line, { level: 40, reason: 'cluster-unavailable', cause: 'command-timeout', uid: dev.uid }, 'at warn, naming the cause');
  t.match(line?.msg, /timed out/i, `and the message says what failed: ${line?.msg}`);
});

t.test('a claim that timed out but that Redis applied once it answered is kept at once (no stale "connected" entry)', async (t) => {
  const { dev, node, fleet } = await hungClaim(t);
  redis.unpause();
  const dir = fleet.engines.directory;
  const started = performance.now();
  await until(async () => (await dir.lookup(dev.uid).catch(() => undefined))?.state === 'kept', 'the entry the late claim left to be kept', 5_000);
  const e = (await dir.lookup(dev.uid))!;
  t.equal(e.node, 'a', `kept ${Math.round(performance.now() - started)} ms after Redis answered again (its claim was this node's)`);
  t.ok(e.keptUntil > 0, 'with an expiry');
  // The device connects again: it resumes that kept session.
  const again = await node.object(dev);
  t.ok(again, 'the device is accepted once Redis answers');
  await until(async () => (await dir.lookup(dev.uid))?.state === 'connected', 'connected again');
});

// One session per UID (PROTOCOL §3 step 7) when the claim's reply is lost: that reply says what
// the claim replaced — a connection on another node, which is told to close (0xA1) — so a claim
// Redis applied without answering left that connection open, its device unroutable (the directory
// says kept) until it reconnected. Once Redis answers, the node that holds such a connection closes it.
for (const where of ['another node', 'the same node'] as const) {
  t.test(`a claim that timed out but that Redis applied, over a connection on ${where}: that connection is closed 0xA1 once Redis answers`, async (t) => {
    const dev = device(`ct-${++fleets}`);
    const over = (id: string) => ({ cluster: { keyPrefix: `ct${fleets}:`, commandTimeoutMs: 300, nodeId: id } });
    const x = await InProcessNode.start(t, redis, 'x', [dev], over('x'));
    const a = where === 'another node' ? await InProcessNode.start(t, redis, 'a', [dev], over('a')) : x;
    const old = await x.object(dev);
    const dir = x.daemon.internals.fleet!.engines.directory;
    const held = (await dir.lookup(dev.uid))!;
    t.match(held, { node: 'x', state: 'connected' });
    t.teardown(() => redis.unpause());
    redis.pause();
    const { accepted, client } = await RawClient.open(a.tcp, dev.uid, dev.key);
    t.notOk(accepted, `the newer connection, at ${a.id}, is refused: its claim timed out`);
    client.close();
    redis.unpause();
    await until(async () => (await dir.lookup(dev.uid).catch(() => undefined))?.claim !== held.claim, 'Redis applies the late claim', 5_000);
    t.match(await dir.lookup(dev.uid), { node: a.id, state: 'kept' }, 'the entry is the late claim, kept by its node');
    t.match(await old.nextOf(ToT.CLOSE, 5_000), { code: CloseCode.FREEING_RESOURCES }, `the older connection, at x, is told Close 0xA1`);
    await old.whenClosed();
    t.equal(x.daemon.internals.sessions.get(dev.uid), undefined, 'x holds no session for the UID');
    t.match(x.logs.find('session-replaced'), [{ level: 40, uid: dev.uid, claim: held.claim }], 'and says why, at warn');

    // The device, back, resumes the session and is reachable from anywhere.
    const back = await a.object(dev);
    const central = await x.central();
    central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 7, payload: { format: 0, options: 0, data: Buffer.from('hi') } });
    t.match(await back.nextOf(ToT.REQUEST), { tracking: 7 }, 'a request from the central reaches it');
  });
}

t.test('a moved notice for a UID whose entry is still the connection here changes nothing (the check never closes a current session)', async (t) => {
  const dev = device(`ct-${++fleets}`);
  const prefix = `ct${fleets}:`;
  // The stream inbox, so the test can write the notice into it directly.
  const x = await InProcessNode.start(t, redis, 'x', [dev], { cluster: { keyPrefix: prefix, commandTimeoutMs: 300, nodeId: 'x', inbox: 'redis' } });
  const conn = await x.object(dev);
  const moved = async () => x.metric('iotsocket_cluster_messages_total', { kind: 'moved', way: 'in' });
  await redis.client(t).xadd(new RedisKeys(prefix).inbox('x'), '*', 'b', packBatch([encodeNodeMessage({ kind: 'moved', uid: dev.uid })]));
  await until(async () => (await moved()) === 1, 'x reads the notice', 3_000);
  await new Promise((res) => setTimeout(res, 300)); // its directory check, and a close if any
  t.notOk(conn.closed, 'the connection stays open');
  t.ok(x.daemon.internals.sessions.get(dev.uid)?.link, 'and x holds its session');
  t.same(x.logs.find('session-replaced'), []);
});

t.test('the other causes a claim names: the lease lapsed (Redis hung past leaseSec), Redis unreachable', async (t) => {
  const node = await InProcessNode.start(t, redis, 'a', [], { cluster: { keyPrefix: `ct${++fleets}:`, commandTimeoutMs: 300 } });
  const fleet = node.daemon.internals.fleet!;
  const link = { peer: '127.0.0.1:1', tls: false, maxTransmissionLength: 0 };
  t.teardown(() => redis.unpause());
  redis.pause();
  await until(() => fleet.engines.registry.state === 'lapsed', 'the lease to lapse', 6_000);
  await t.rejects(fleet.claim('x', 'object', 'Devices', link), { why: 'lease-lapsed', message: /lease lapsed/ });
  redis.unpause();
  await until(() => fleet.live, 'live again', 6_000);
  await redis.stop();
  t.teardown(() => redis.resume());
  await until(() => fleet.engines.reachability === 'unreachable', 'Redis seen gone');
  await t.rejects(fleet.claim('x', 'object', 'Devices', link), { why: 'redis-unreachable', message: /Redis unreachable/ });
  await redis.resume();
});
