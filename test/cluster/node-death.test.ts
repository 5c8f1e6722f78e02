import t, { type Test } from 'tap';
import { ObjectClient } from '../../src/client/index.js';
import { ResponseCode, ToT, type Transmission } from '../../src/protocol/index.js';
import { CliNode, InProcessNode, ascii, readUntil, responsesBeforePong, untilKept, untilReaped, withTimeout } from '../helpers/cluster.js';
import { device } from '../helpers/daemon.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

// CLUSTER.md guarantees 4, 5 and 8 where a process dies: a node killed with SIGKILL (the real
// CLI in a child process), a durable single node restarted, Redis stopped under traffic.

const LEASE_MS = 2000; // FAST_CLUSTER.leaseSec

/** No request left in flight at these in-process nodes (so no backstop timer can answer twice later). */
async function untilNothingInFlight(nodes: InProcessNode[], ms: number): Promise<void> {
  await until(async () => {
    for (const n of nodes) if ((await n.metric('iotsocket_requests_in_flight')) !== 0) return false;
    return true;
  }, `no request in flight at ${nodes.map((n) => n.id).join(', ')}`, ms);
}

/** a and c in this process, b a child process that the test kills. */
async function withKillableB(t: Test, devs: ReturnType<typeof device>[], requestTimeoutSec: number) {
  const redis = await RedisServer.start(t);
  const over = { tcp: { requestTimeoutSec } };
  const a = await InProcessNode.start(t, redis, 'a', devs, over);
  const [b, c] = await Promise.all([CliNode.start(t, redis, 'b', devs, { requestTimeoutSec }), InProcessNode.start(t, redis, 'c', devs, over)]);
  return { redis, a, b, c };
}

t.test('a buffered request survives kill -9 of the node that kept it: delivered where the object resumes, answered exactly once', async (t) => {
  const dev = device('nd-kept');
  const { redis, a, b, c } = await withKillableB(t, [dev], 10);
  const central = await a.central();
  const obj = await b.object(dev);
  obj.close();
  await untilKept([a, b], dev.uid, 0);
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 5, payload: ascii('buffered') });
  await untilKept([a, b], dev.uid, 1);

  await b.kill9();
  const resumed = await c.object(dev);
  const req = await resumed.nextOf(ToT.REQUEST);
  t.same([req.tracking, req.payload.data.toString()], [5, 'buffered'], 'the object resuming at c gets the request kept by the killed b');
  resumed.send({ type: ToT.RESPONSE, tracking: 5, code: 0, payload: ascii('re:buffered') });
  const { hit, before } = await readUntil(central, ToT.RESPONSE);
  t.same([hit.uid, hit.tracking, hit.code, hit.payload.data.toString()], [dev.uid, 5, 0, 're:buffered'], 'the central on a gets its answer');
  t.same(before.filter((x) => x.type === ToT.RESPONSE), [], 'and no answer before it');

  // Exactly once: b reaped (a reaper answering what b held would answer now), nothing in flight, tracking 5 free again.
  await untilReaped(t, redis, 'b', LEASE_MS * 4);
  await untilNothingInFlight([a, c], 5000);
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 5, payload: ascii('again') });
  const again = await resumed.nextOf(ToT.REQUEST);
  t.same([again.tracking, again.payload.data.toString()], [5, 'again'], 'tracking 5 is free: the request was settled fleet-wide');
  resumed.send({ type: ToT.RESPONSE, tracking: 5, code: 0, payload: ascii('re:again') });
  const second = await readUntil(central, ToT.RESPONSE);
  t.same([second.before.filter((x) => x.type === ToT.RESPONSE), second.hit.code, second.hit.payload.data.toString()], [[], 0, 're:again'], 'no duplicate of the first answer came in between');
  t.same(await responsesBeforePong(central), [], 'and none after');
});

t.test('requests in flight through a killed node are answered exactly once, and its object is routable again at once elsewhere', async (t) => {
  const dev = device('nd-flight');
  const idle = device('nd-idle'); // connected at b, does not reconnect after the kill
  const requestTimeoutSec = 3;
  const { redis, a, b, c } = await withKillableB(t, [dev, idle], requestTimeoutSec);
  const central = await a.central();
  const obj = await b.object(dev);
  await b.object(idle);
  const held = a.post('/request', { UID: dev.uid, Timeout: requestTimeoutSec, Format: 'ASCII', Payload: 'held-http' }, { ms: 15_000 });
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 11, payload: ascii('held-tcp') });
  const seen = [(await obj.nextOf(ToT.REQUEST)).payload.data.toString(), (await obj.nextOf(ToT.REQUEST)).payload.data.toString()];
  t.same(seen.sort(), ['held-http', 'held-tcp'], 'both requests are at the object on b, unanswered');

  const killedAt = Date.now();
  await b.kill9();
  const bound = LEASE_MS + requestTimeoutSec * 1000 + 1000;

  const moved = await c.object(dev);
  const fresh = a.post('/request', { UID: dev.uid, Timeout: 5, Format: 'ASCII', Payload: 'fresh' }, { ms: 8000 });
  let freshEnd: string | undefined;
  void fresh.then((r) => { freshEnd = r.text; }, (err: Error) => { freshEnd = err.message; });
  // Without consuming anything: a reader left waiting here would swallow a later request.
  await until(() => moved.received.some((x) => x.type === ToT.REQUEST) || freshEnd !== undefined, 'the new request to reach the object or be answered', 6000)
    .catch(() => {});
  if (moved.received.some((x) => x.type === ToT.REQUEST)) {
    const req = await moved.nextOf(ToT.REQUEST);
    t.equal(req.payload.data.toString(), 'fresh', 'the object reconnected at c gets a new request at once (not a replay of the held ones)');
    moved.send({ type: ToT.RESPONSE, tracking: req.tracking, code: 0, payload: ascii('re:fresh') });
    t.same((await fresh).json, { Code: 0, Format: 'ASCII', Payload: 're:fresh' }, 'and the HTTP caller at a gets its answer: routable again, before b is even reaped');
  } else {
    t.fail(`a request at a to the object reconnected at c must reach it at once; it ended without reaching it: ${freshEnd ?? 'no answer within 6 s'}`);
  }

  const httpEnd = await withTimeout(held, bound + 2000, 'the held HTTP request to be answered');
  const httpMs = Date.now() - killedAt;
  t.equal(httpEnd.status, 200, 'the held HTTP request gets an answer');
  t.ok([ResponseCode.NOT_FOUND, ResponseCode.TIMEOUT].includes(httpEnd.json?.Code), `with 0xA0 or 0xA1 (${httpEnd.text})`);
  t.ok(typeof httpEnd.json?.Reason === 'string', 'and a Reason');
  t.ok(httpMs <= bound, `within leaseSec + its timeout (${httpMs} ms ≤ ${bound} ms)`);

  const { hit, before } = await readUntil(central, ToT.RESPONSE, bound + 2000);
  const tcpMs = Date.now() - killedAt;
  t.same([hit.uid, hit.tracking], [dev.uid, 11], 'the TCP central gets an answer to its held request');
  t.ok(([ResponseCode.NOT_FOUND, ResponseCode.TIMEOUT] as number[]).includes(hit.code), `with 0xA0 or 0xA1 (0x${hit.code.toString(16)})`);
  t.ok(tcpMs <= bound, `within leaseSec + the request timeout (${tcpMs} ms ≤ ${bound} ms)`);
  t.same(before.filter((x) => x.type === ToT.RESPONSE), [], 'no other answer came first');

  await untilReaped(t, redis, 'b', LEASE_MS * 4);
  // CLUSTER.md guarantee 5: the dead node's entries are cleaned, and what it held connected stays resumable.
  let idleRow: unknown;
  await until(async () => {
    idleRow = (await a.sessions()).find((s) => s.UID === idle.uid);
    return (idleRow as { State?: string } | undefined)?.State === 'kept';
  }, 'the session b held connected to be listed kept', LEASE_MS * 2).catch(() => {});
  t.match(idleRow, { UID: idle.uid, State: 'kept' }, 'a session b held connected is kept once b is reaped (resumable at any node)');
  await untilNothingInFlight([a, c], 5000);
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 11, payload: ascii('again') });
  const again = await moved.nextOf(ToT.REQUEST);
  t.same([again.tracking, again.payload.data.toString()], [11, 'again'], 'tracking 11 is free again: settled once, fleet-wide');
  moved.send({ type: ToT.RESPONSE, tracking: 11, code: 0, payload: ascii('re:again') });
  const second = await readUntil(central, ToT.RESPONSE);
  t.same([second.before.filter((x) => x.type === ToT.RESPONSE), second.hit.code], [[], 0], 'answered, with no duplicate of the first answer in between');
  t.same(await responsesBeforePong(central), [], 'and none after');
});

t.test('durable single node: a kept session and its buffered request survive kill -9 and restart with the same nodeId', async (t) => {
  const dev = device('nd-solo');
  const redis = await RedisServer.start(t);
  const solo = await CliNode.start(t, redis, 'solo', [dev], { requestTimeoutSec: 20 });
  const central = await solo.central();
  const obj = await solo.object(dev);
  obj.close();
  await untilKept([solo], dev.uid, 0);
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 21, payload: ascii('durable') });
  await untilKept([solo], dev.uid, 1);

  await solo.kill9();
  await central.whenClosed(3000);
  await solo.restart();
  const rows = await solo.sessions();
  t.match(rows.find((s) => s.UID === dev.uid), { State: 'kept', Buffered: 1 }, 'after the restart the session is still kept, its request still buffered');
  const central2 = await solo.central();
  const resumed = await solo.object(dev);
  const req = await resumed.nextOf(ToT.REQUEST);
  t.same([req.tracking, req.payload.data.toString()], [21, 'durable'], 'the object resuming gets the request buffered before the kill');
  resumed.send({ type: ToT.RESPONSE, tracking: 21, code: 0, payload: ascii('re:durable') });
  const answer = await central2.nextOf(ToT.RESPONSE);
  t.same([answer.uid, answer.tracking, answer.code, answer.payload.data.toString()], [dev.uid, 21, 0, 're:durable'], 'and its answer reaches the central, reconnected to the restarted node');
});

t.test('Redis stopped and restarted under traffic: every request answered exactly once and in time, traffic back by itself', async (t) => {
  const dev = device('nd-traffic');
  const redis = await RedisServer.start(t);
  const requestTimeoutSec = 2;
  const over = { tcp: { requestTimeoutSec } };
  const a = await InProcessNode.start(t, redis, 'a', [dev], over);
  const b = await InProcessNode.start(t, redis, 'b', [dev], over);
  const obj = new ObjectClient({
    host: '127.0.0.1', port: b.tcp, uid: dev.uid, key: dev.key, reconnect: { minMs: 50, maxMs: 300, takeoverMinMs: 50 },
    handler: (req) => ({ payload: ascii(`re:${req.payload.data.toString()}`) }),
  });
  t.teardown(() => obj.destroy());
  obj.on('error', () => {});
  await obj.connect();
  const central = await a.central();

  // Bound: the request timeout, plus 1 s for scheduling on a loaded machine.
  const lateMs = requestTimeoutSec * 1000 + 1000;
  const sentAt = new Map<number, number>();
  const answers = new Map<number, number[]>();
  const problems: string[] = [];
  const codes = new Map<string, number>();
  let phase: 'before' | 'down' | 'after' = 'before';
  const okIn = { before: 0, down: 0, after: 0 };
  let stopped = false;

  const reader = (async () => {
    while (!stopped) {
      let x: Transmission;
      try {
        x = await central.next(60_000);
      } catch (err) {
        if (!stopped) problems.push(`the central's connection failed: ${(err as Error).message}`);
        return;
      }
      if (x.type !== ToT.RESPONSE) continue;
      const at = sentAt.get(x.tracking);
      if (at === undefined) { problems.push(`response for tracking ${x.tracking}, never sent`); continue; }
      const list = answers.get(x.tracking) ?? [];
      list.push(x.code);
      answers.set(x.tracking, list);
      if (list.length > 1) problems.push(`tracking ${x.tracking} answered ${list.length} times`);
      if (Date.now() - at > lateMs) problems.push(`tracking ${x.tracking} (0x${x.code.toString(16)}) answered after ${Date.now() - at} ms, timeout ${requestTimeoutSec * 1000} ms`);
      if (x.code === 0 && x.payload.data.toString() !== `re:r${x.tracking}`) problems.push(`tracking ${x.tracking} got another request's answer`);
      if (![0, ResponseCode.NOT_FOUND, ResponseCode.TIMEOUT].includes(x.code as 0)) problems.push(`tracking ${x.tracking}: code 0x${x.code.toString(16)}`);
      codes.set(`${phase}:0x${x.code.toString(16)}`, (codes.get(`${phase}:0x${x.code.toString(16)}`) ?? 0) + 1);
      if (x.code === 0) okIn[phase]++;
    }
  })();

  // One HTTP caller at a as well, one request after the other: each answered in time, explicitly.
  const httpSeen = new Map<string, number>();
  let httpN = 0;
  const httpLoop = (async () => {
    while (!stopped && httpN < 2000) {
      const n = ++httpN;
      const at = Date.now();
      let what: string;
      try {
        const r = await a.post('/request', { UID: dev.uid, Timeout: requestTimeoutSec, Format: 'ASCII', Payload: `h${n}` }, { ms: lateMs * 3 });
        what = r.status === 200 ? `200:${r.json?.Code}` : `${r.status}`;
        if (r.status === 200 && r.json?.Code === 0 && r.json.Payload !== `re:h${n}`) problems.push(`HTTP ${n} got another request's answer`);
        if (r.status === 200 && r.json?.Code !== 0 && typeof r.json?.Reason !== 'string') problems.push(`HTTP ${n}: code ${r.json?.Code} without a Reason`);
        if (r.status === 503 && !(r.json?.message || r.json?.Reason)) problems.push(`HTTP ${n}: 503 without a reason`);
        if (!['200:0', '200:160', '200:161', '503'].includes(what)) problems.push(`HTTP ${n}: ${r.status} ${r.text}`);
      } catch (err) {
        what = 'error';
        problems.push(`HTTP ${n}: ${(err as Error).message}`);
      }
      if (Date.now() - at > lateMs) problems.push(`HTTP ${n} (${what}) answered after ${Date.now() - at} ms, timeout ${requestTimeoutSec * 1000} ms`);
      httpSeen.set(`${phase}:${what}`, (httpSeen.get(`${phase}:${what}`) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();

  // At most 4 in flight, at most 3000 requests in all.
  let next = 1;
  const pending = () => [...sentAt.keys()].filter((k) => !answers.has(k)).length;
  const pump = async (cond: () => boolean, what: string, ms: number) => {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out (${ms} ms) waiting for ${what}; codes so far ${JSON.stringify([...codes])}; problems ${problems.slice(0, 5).join('; ')}`);
      if (next > 3000) throw new Error(`3000 requests sent without ${what}`);
      const overdue = [...sentAt].find(([k, at]) => !answers.has(k) && Date.now() - at > lateMs);
      if (overdue) throw new Error(`tracking ${overdue[0]} unanswered after ${Date.now() - overdue[1]} ms`);
      while (pending() < 4 && next <= 3000) {
        sentAt.set(next, Date.now());
        central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: next, payload: ascii(`r${next}`) });
        next++;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  await pump(() => okIn.before >= 20, '20 answered requests before the outage', 5000);
  phase = 'down';
  await redis.stop();
  const downAt = Date.now();
  await pump(() => Date.now() - downAt >= 1000, 'a 1 s outage', 3000);
  await redis.resume();
  phase = 'after';
  const httpOkAfter = () => httpSeen.get('after:200:0') ?? 0;
  await pump(() => okIn.after >= 20 && httpOkAfter() >= 5, '20 TCP and 5 HTTP requests answered after Redis returned', 10_000);
  // Drain: every request sent is answered, each in time.
  const last = next - 1;
  await until(() => pending() === 0, 'every request sent to be answered', lateMs + 1000).catch((err: Error) => {
    throw new Error(`${err.message}: ${pending()} of ${last} unanswered`);
  });
  stopped = true;
  await httpLoop;
  central.close();
  await reader;
  t.same(problems, [], `${last} TCP and ${httpN} HTTP requests: each answered exactly once, in time, by its own answer `
    + `(TCP ${JSON.stringify(Object.fromEntries(codes))}, HTTP ${JSON.stringify(Object.fromEntries(httpSeen))})`);
  t.ok(httpOkAfter() >= 5, `HTTP requests succeed again after Redis returns (${httpOkAfter()} answered Code 0 after)`);
  t.ok(okIn.after >= 20, `traffic succeeds again after Redis returns (${okIn.after} answered 0x00 after)`);
});

t.test('a response lost with Redis (the object answers while Redis is down): the origin still gets exactly one answer, by the request timeout', async (t) => {
  const dev = device('nd-lost-answer');
  const redis = await RedisServer.start(t);
  const requestTimeoutSec = 2;
  const over = { tcp: { requestTimeoutSec } };
  const a = await InProcessNode.start(t, redis, 'a', [dev], over);
  const b = await InProcessNode.start(t, redis, 'b', [dev], over);
  const central = await a.central();
  const obj = await b.object(dev);
  const sent = Date.now();
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 1, payload: ascii('tcp') });
  const http = a.post('/request', { UID: dev.uid, Timeout: requestTimeoutSec, Format: 'ASCII', Payload: 'http' }, { ms: 10_000 });
  const got = [await obj.nextOf(ToT.REQUEST), await obj.nextOf(ToT.REQUEST)];
  await redis.stop();
  for (const r of got) obj.send({ type: ToT.RESPONSE, tracking: r.tracking, code: 0, payload: ascii(`re:${r.payload.data.toString()}`) });

  // Its answer if it crossed, else 0xA0 at once (Redis away, CLUSTER.md guarantee 8) or 0xA1 at its timeout; never later.
  const bound = requestTimeoutSec * 1000 + 500;
  const tcp = await central.nextOf(ToT.RESPONSE, 10_000);
  const tcpMs = Date.now() - sent;
  t.ok(([0, ResponseCode.NOT_FOUND, ResponseCode.TIMEOUT] as number[]).includes(tcp.code), `the TCP central gets its answer, 0xA0 or 0xA1 (0x${tcp.code.toString(16)})`);
  t.ok(tcpMs <= bound, `by the request timeout (${tcpMs} ms for a ${requestTimeoutSec * 1000} ms timeout)`);
  const h = await http;
  const httpMs = Date.now() - sent;
  const explicit = (h.status === 200 && [0, ResponseCode.NOT_FOUND, ResponseCode.TIMEOUT].includes(h.json?.Code))
    || (h.status === 503 && typeof h.json?.Reason === 'string');
  t.ok(explicit, `the HTTP caller gets its answer, 160/161, or 503 with a Reason (${h.status} ${h.text})`);
  t.ok(httpMs <= bound, `by the request timeout (${httpMs} ms for a ${requestTimeoutSec * 1000} ms timeout)`);
  await redis.resume();
  t.same(await responsesBeforePong(central), [], 'and nothing more once Redis is back');
});
