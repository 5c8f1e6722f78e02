import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { CentralClient, ObjectClient, ascii, type IncomingRequest } from '../../src/client/index.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { CENTRAL_UID } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { call } from '../helpers/http.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

/**
 * What the chaos test (chaos.test.ts) found, each reduced to the smallest scenario that shows it.
 * Each failed against the first wiring and passes since its fix in src/cluster/fleet.ts; each
 * says what it expects and why.
 */

const dev = device('finding-1');
const redis = await RedisServer.start(t);
let prefixes = 0;

function cluster(nodeId: string, prefix: string, url = redis.url): ClusterConfig {
  return { redis: url, nodeId, keyPrefix: prefix, commandTimeoutMs: 500, heartbeatSec: 1, leaseSec: 2 };
}

async function twoNodes(t: Test, url = redis.url) {
  const prefix = `cf${++prefixes}:`;
  const over = (id: string) => testConfig(t, { cluster: cluster(id, prefix, url), http: { enabled: true }, tcp: { requestTimeoutSec: 1 } });
  const a = await startDaemon(t, over('a'), [dev], { logLevel: 'silent' });
  const b = await startDaemon(t, over('b'), [dev], { logLevel: 'silent' });
  return { a, b };
}

/** Two nodes on a Redis of the test's own, an echoing object on a (it reconnects by itself), and `ask`: a POST /request at b to it. */
async function objectOnAAskedFromB(t: Test) {
  const own = await RedisServer.start(t);
  const { a, b } = await twoNodes(t, own.url);
  const obj = new ObjectClient({
    host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key,
    reconnect: { minMs: 50, maxMs: 200, takeoverMinMs: 50 }, // a fix that closes the connection instead is fine too
    handler: (req) => ({ code: 0, payload: req.payload }),
  });
  t.teardown(() => obj.destroy());
  await obj.connect();
  const atB = `http://127.0.0.1:${b.daemon.addresses!.http!.port}`;
  const ask = () => call(atB, '/request', { UID: dev.uid, Timeout: 1, Format: 'ASCII', Payload: 'ping' }).then((r) => r.json as { Code?: number }, (): { Code?: number } => ({}));
  return { own, a, b, obj, ask };
}

t.test('finding (fixed on main): a request tracked on one node and buffered by another is never delivered after its origin got 0xA1 (PROTOCOL §6)', async (t) => {
  // Object on a, central on b. The object's request is tracked on a; a's cached route (1 s) still
  // points at b after the central dropped there, so b routes it again and buffers it for the kept
  // central — with a tracking reference to a, and nothing telling a that it sits in a buffer.
  const { a, b } = await twoNodes(t);
  const seen: string[] = [];
  const handler = (req: IncomingRequest) => {
    seen.push(req.payload.data.toString());
    return { code: 0, payload: req.payload };
  };
  const central = new CentralClient({ host: '127.0.0.1', port: b.port, key: CENTRAL_KEY, reconnect: false, handler });
  const obj = new ObjectClient({ host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key, reconnect: false, requestTimeoutMs: 10_000 });
  t.teardown(() => { central.destroy(); obj.destroy(); });
  await central.connect();
  await obj.connect();
  t.equal((await obj.request(ascii('warm'))).code, 0, 'the object reaches the central on b (a caches the route)');
  central.destroy(); // an unexpected drop: the central's session is kept
  await until(() => b.daemon.internals.sessions.get(CENTRAL_UID) === undefined, 'the central gone from b');
  const engines = b.daemon.internals.fleet!.engines;
  const answer = obj.request(ascii('buffered'));
  await until(async () => (await engines.buffers.stats(CENTRAL_UID)).count === 1, 'the request buffered for the kept central');
  t.equal((await answer).code, 0xa1, 'its origin got 0xA1 at the request timeout (1 s)');
  // Expected: answered means out of the buffer. Got: it stays, and is replayed to the next central.
  await until(async () => (await engines.buffers.stats(CENTRAL_UID)).count === 0, 'the answered request removed from the buffer', 3000)
    .then(() => t.pass('the buffer is empty once its origin was answered'), (err: Error) => t.fail(err.message));
  const again = new CentralClient({ host: '127.0.0.1', port: b.port, key: CENTRAL_KEY, reconnect: false, handler });
  t.teardown(() => again.destroy());
  await again.connect();
  t.equal((await obj.request(ascii('after'))).code, 0, 'a new request reaches the resumed central');
  t.same(seen, ['warm', 'after'], 'the central never got the request its origin saw answered 0xA1');
});

t.test('finding (fixed on main, kept as a regression test): a node reaped while its lease lapsed gets its still-connected sessions routable again', async (t) => {
  // Node a alone loses Redis for longer than its lease (its command connection is killed over and
  // over), b reaps it and marks a's sessions kept. Found by the chaos run (seed 2): once a was live
  // again nothing re-claimed the sessions it still held, so requests from b to the object connected
  // at a were buffered for a "kept" session that was in fact connected, and answered 0xA1 forever.
  const own = await RedisServer.start(t);
  const { a, b } = await twoNodes(t, own.url);
  const obj = new ObjectClient({
    host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key,
    // If the fix closes a's connections instead of re-claiming them, the object comes back by itself.
    reconnect: { minMs: 50, maxMs: 200, takeoverMinMs: 50 },
    handler: (req) => ({ code: 0, payload: req.payload }),
  });
  t.teardown(() => obj.destroy());
  await obj.connect();
  const atB = `http://127.0.0.1:${b.daemon.addresses!.http!.port}`;
  const ask = () => call(atB, '/request', { UID: dev.uid, Timeout: 1, Format: 'ASCII', Payload: 'ping' });
  t.same((await ask()).json, { Code: 0, Format: 'ASCII', Payload: 'ping' }, 'b reaches the object on a');

  const admin = new Redis(own.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  t.teardown(() => admin.disconnect());
  const fleetA = a.daemon.internals.fleet!;
  const began = Date.now();
  // Cut a's command connection (not b's) until a knows it lapsed and b reaped it.
  while (Date.now() - began < 8000) {
    const list = String(await admin.client('LIST'));
    for (const line of list.split('\n')) {
      const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
      if (id && / name=iotsocket:a:cmd /.test(line)) await admin.client('KILL', 'ID', id).catch(() => {});
    }
    if (fleetA.engines.registry.state === 'lapsed' && (await b.daemon.internals.fleet!.engines.directory.lookup(dev.uid))?.state === 'kept') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(fleetA.engines.registry.state, 'lapsed', 'a knows its lease lapsed');
  t.equal((await b.daemon.internals.fleet!.engines.directory.lookup(dev.uid))?.state, 'kept', "b reaped a: the object's entry says kept");
  await until(() => fleetA.live, 'a live again once Redis is back for it', 10_000);

  // Expected: within a few heartbeats the object is routable again from b (a re-claims what it
  // holds, or closes it so that the device reconnects). Got: 0xA1 'timeout' for as long as it stays connected.
  let last: unknown;
  await until(async () => {
    last = (await ask()).json;
    return (last as { Code?: number }).Code === 0;
  }, 'the object on a routable from b again', 8000).then(() => t.pass('routable again'), (err: Error) => t.fail(`${err.message}; last answer ${JSON.stringify(last)}`));
  const entry = await b.daemon.internals.fleet!.engines.directory.lookup(dev.uid);
  t.same([entry?.state, entry?.node], ['connected', obj.connected ? 'a' : entry?.node], 'the directory says connected, where the device is');
});

t.test('finding (fixed on main): a buffered request answered 0xA1 while Redis is away leaves the buffer once Redis is back, and is never delivered to the resumed central (PROTOCOL §6)', async (t) => {
  // The tracker's removal of an answered request from the kept buffer (PendingRequest.unbuffer →
  // buffers.remove) is fire-and-forget: when Redis is away at that moment it is lost, and the
  // node that later replays the buffer checks only its own tracker, not the request's node.
  const own = await RedisServer.start(t);
  const { a, b } = await twoNodes(t, own.url);
  const seen: string[] = [];
  const handler = (req: IncomingRequest) => {
    seen.push(req.payload.data.toString());
    return { code: 0, payload: req.payload };
  };
  const central = new CentralClient({ host: '127.0.0.1', port: b.port, key: CENTRAL_KEY, reconnect: false, handler });
  const obj = new ObjectClient({ host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key, reconnect: false, requestTimeoutMs: 10_000 });
  t.teardown(() => { central.destroy(); obj.destroy(); });
  await central.connect();
  await obj.connect();
  central.destroy(); // kept
  const engines = b.daemon.internals.fleet!.engines;
  await until(async () => (await engines.directory.lookup(CENTRAL_UID))?.state === 'kept', 'the central kept in the directory');
  const answer = obj.request(ascii('buffered'));
  await until(async () => (await engines.buffers.stats(CENTRAL_UID)).count === 1, 'the request buffered for the kept central (tracked on a)');
  await own.stop(); // Redis away for less than the lease: no node lapses
  t.equal((await answer).code, 0xa1, 'its origin got 0xA1 at the request timeout (1 s), Redis away');
  await own.resume();
  await until(() => a.daemon.internals.fleet!.live && b.daemon.internals.fleet!.live, 'both nodes live again', 10_000);
  // The removal that failed while Redis was away is retried by a later sweep (1 s).
  await until(async () => (await engines.buffers.stats(CENTRAL_UID)).count === 0, 'the answered request out of the buffer once Redis is back', 5000)
    .then(() => t.pass('the answered request is no longer in the buffer'), (err: Error) => t.fail(err.message));
  const again = new CentralClient({ host: '127.0.0.1', port: b.port, key: CENTRAL_KEY, reconnect: false, handler });
  t.teardown(() => again.destroy());
  await until(() => again.connect().then(() => true, () => false), 'the central connects at b again', 10_000);
  t.equal((await obj.request(ascii('after'))).code, 0, 'a new request reaches the resumed central');
  // Expected: only 'after'. Got: 'buffered' first — delivered after its origin was answered 0xA1.
  t.same(seen, ['after'], 'the central never got the request its origin saw answered 0xA1');
});

t.test('probe (passes today): after Redis is away longer than the lease, twice, an object connected the whole time is routable again each time', async (t) => {
  // Chaos seed 2 on 65aa817 ended "not healed: chaos-3 on n0, directory: kept at n0" (a live node
  // holding connections whose entries a survivor had kept). The suspected race — b reaps a's old
  // incarnation from a dead() read taken before a renewed, after a's reconcile found nothing to do,
  // and keeps every entry not claimed under a's new incarnation — has a window of a round trip:
  // this probe does not hit it (it passed 4 of 4 outages). It stays as a check of the lapse path.
  const { own, a, b, obj, ask } = await objectOnAAskedFromB(t);
  const failures: string[] = [];
  for (let attempt = 1; attempt <= 2 && failures.length === 0; attempt++) {
    await own.stop();
    await new Promise((r) => setTimeout(r, 2600)); // longer than the lease (2 s): both nodes lapse
    await own.resume();
    await until(() => a.daemon.internals.fleet!.live && b.daemon.internals.fleet!.live, 'both nodes live again', 10_000);
    let last: unknown;
    const ok = await until(async () => ((last = await ask()) as { Code?: number }).Code === 0, 'routable', 6000).then(() => true, () => false);
    if (!ok) {
      const e = await b.daemon.internals.fleet!.engines.directory.lookup(dev.uid);
      failures.push(`outage ${attempt}: not routable from b within 6 s of both nodes live (last answer ${JSON.stringify(last)}; object connected ${obj.connected}; directory ${e ? `${e.state} at ${e.node}, claim ${e.claim}` : 'none'}; a's incarnation ${a.daemon.internals.fleet!.engines.registry.incarnation})`);
    }
  }
  t.same(failures, [], 'after every outage the object is routable again');
});

t.test('finding: a survivor whose reap of a lapsed node is delayed until that node renewed and reconciled keeps sessions the node still holds', async (t) => {
  // The race the probe above cannot reach, made deterministic by holding b's reap() (as a slow
  // Redis round trip or a busy event loop would) from the moment b decided a was dead until a has
  // renewed its lease (a new incarnation) and reconciled. Fleet.#watchNodes (src/cluster/fleet.ts)
  // then reaps a's old incarnation (its lease is no longer current) and keeps every entry not
  // claimed under a's new incarnation: all of a's sessions, claimed before the lapse and still
  // connected at a. a's reconcile already ran, so nothing repairs them.
  const { own, a, b, obj, ask } = await objectOnAAskedFromB(t);
  t.equal((await ask()).Code, 0, 'b reaches the object on a');

  const registryB = b.daemon.internals.fleet!.engines.registry;
  const reap = registryB.reap.bind(registryB);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let held = false;
  registryB.reap = async (d) => {
    if (d.node === 'a') {
      held = true;
      await gate;
    }
    return reap(d);
  };
  const admin = new Redis(own.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  t.teardown(() => admin.disconnect());
  const fleetA = a.daemon.internals.fleet!;
  const before = fleetA.engines.registry.incarnation;
  const began = Date.now();
  while (!held && Date.now() - began < 8000) { // a's command connection cut until b decides a is dead
    for (const line of String(await admin.client('LIST')).split('\n')) {
      const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
      if (id && / name=iotsocket:a:cmd /.test(line)) await admin.client('KILL', 'ID', id).catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(held, "b is about to reap a (its reap held)");
  await until(() => fleetA.live && fleetA.engines.registry.incarnation !== before, 'a renewed under a new incarnation', 10_000);
  await new Promise((r) => setTimeout(r, 500)); // a's reconcile: its entries still say connected with its claims
  release();
  await new Promise((r) => setTimeout(r, 1500)); // b's reap and keeps land
  let last: unknown;
  await until(async () => ((last = await ask()) as { Code?: number }).Code === 0, 'the object on a routable from b', 6000)
    .then(() => t.pass('routable from b'), async (err: Error) => {
      const e = await b.daemon.internals.fleet!.engines.directory.lookup(dev.uid);
      t.fail(`${err.message}: last answer ${JSON.stringify(last)}; object connected ${obj.connected}; directory ${e ? `${e.state} at ${e.node}, claim ${e.claim}` : 'none'}; a's incarnation now ${fleetA.engines.registry.incarnation}`);
    });
});
