import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { ResponseCode, ToT, type Transmission } from '../../src/protocol/index.js';
import { device } from '../helpers/daemon.js';
import { settle, startHttpDaemon, type HttpAnswer } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';
import { fdCount, memory, size, until } from '../helpers/stress.js';

const TIMEOUT_SEC = 20;
/** Requests per device: under limits.maxRequestsInFlightPerTarget (256), which stays at its default. */
const PER_DEVICE = 250;
/** New HTTP connections opened at once: below the listen backlog, so no SYN is retried. */
const BATCH = 250;

/** iotsocket_requests_in_flight as /metrics serves it. */
async function inFlightGauge(post: (path: string, body?: unknown, o?: object) => Promise<HttpAnswer>): Promise<number> {
  const r = await post('/metrics', undefined, { method: 'GET', auth: null, contentType: null });
  const m = /^iotsocket_requests_in_flight (\d+)$/m.exec(r.text);
  return m ? Number(m[1]) : NaN;
}

t.test('held POST /request to silent devices: all answered 0xA1 at their timeout; tables, memory and fds back', async (t) => {
  const n = size(200, 5000);
  const clock = new ManualClock();
  const devs = Array.from({ length: Math.ceil(n / PER_DEVICE) }, (_, i) => device(`silent-${i}`, 'Stations'));
  const { daemon, port, post, agent } = await startHttpDaemon(t, devs, { clock, logLevel: 'warn', over: { http: { maxWaitSec: 60 } } });
  const api = daemon.internals.http!.api;
  const tracker = daemon.internals.tracker;
  let delivered = 0; // requests the devices received (and never answer)
  for (const dev of devs) {
    const { client } = await RawClient.open(port, dev.uid, dev.key);
    t.teardown(() => client.close());
    (client.received as Transmission[]).push = (...ts: Transmission[]) => { delivered += ts.filter((x) => x.type === ToT.REQUEST).length; return 0; };
  }
  const fd0 = fdCount();
  const mem0 = memory();
  const t0 = Date.now();

  const answers: Array<HttpAnswer | Error> = [];
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < n; i += BATCH) {
    for (let j = i; j < Math.min(n, i + BATCH); j++) {
      const uid = devs[Math.floor(j / PER_DEVICE)]!.uid;
      pending.push(post('/request', { UID: uid, Timeout: TIMEOUT_SEC, Format: 'ASCII', Payload: `q${j}` })
        .then((a) => void answers.push(a), (e: Error) => void answers.push(e)));
    }
    const want = Math.min(n, i + BATCH);
    if (!(await until(() => api.held >= want || answers.length > 0, 30_000))) break;
  }
  t.equal(answers.length, 0, 'no answer before the timeout');
  t.equal(api.held, n, `${n} requests held by the HTTP API`);
  t.equal(tracker.size, n, `${n} requests tracked`);
  t.ok(await until(() => delivered === n, 10_000), `all ${n} delivered to the ${devs.length} silent devices`);
  const mem1 = memory();
  const fdHeld = fdCount();
  const holdMs = Date.now() - t0;
  t.equal(await inFlightGauge(post), n, '/metrics: iotsocket_requests_in_flight = n');

  clock.advance(TIMEOUT_SEC * 1000 - 1);
  await settle();
  t.equal(answers.length, 0, 'nothing answered 1 ms before the timeout');
  const t1 = Date.now();
  clock.advance(1);
  t.ok(await until(() => answers.length === n, 30_000), 'every held request answered');
  await Promise.all(pending);
  const answerMs = Date.now() - t1;

  const tally: Record<string, number> = {};
  for (const a of answers) {
    const k = a instanceof Error ? `error ${(a as { code?: string }).code ?? a.message}` : `${a.status} Code ${a.json?.Code} Payload ${JSON.stringify(a.json?.Payload)}`;
    tally[k] = (tally[k] ?? 0) + 1;
  }
  t.same(tally, { [`200 Code ${ResponseCode.TIMEOUT} Payload null`]: n }, `all ${n} answered 200 {Code: 161, Payload: null}`);
  t.equal(tracker.size, 0, 'tracker empty');
  t.equal(api.held, 0, 'nothing held');
  t.equal(await inFlightGauge(post), 0, '/metrics: iotsocket_requests_in_flight = 0');
  t.equal(await daemon.internals.metrics.value('iotsocket_requests_refused_total'), 0, 'nothing refused (no in-flight cap reached)');

  await agent.close();
  const fdsBack = await until(() => fdCount() <= fd0, 10_000);
  const fd1 = fdCount();
  t.ok(fdsBack, `fd count back to baseline (${fd0} before, ${fdHeld} held, ${fd1} after)`);
  const heapPer = (mem1.heap - mem0.heap) / n;
  const rssPer = (mem1.rss - mem0.rss) / n;
  t.ok(heapPer < 64 * 1024, `heap per held request ${Math.round(heapPer)} B, under 64 KiB (both ends of the HTTP exchange)`);
  t.comment(`held requests: ${JSON.stringify({
    held: n, devices: devs.length, perDevice: Math.min(n, PER_DEVICE), maxInFlightPerTarget: 256,
    heapPerRequestKB: +(heapPer / 1024).toFixed(2), rssPerRequestKB: +(rssPer / 1024).toFixed(2),
    holdMs, answerMs, fd0, fdHeld, fd1,
  })} (memory: daemon and undici client in one process, after a forced GC)`);
});

t.test('held callers that leave before the timeout: answers discarded at the timeout, nothing left behind', async (t) => {
  const n = size(100, 1000);
  const clock = new ManualClock();
  const devs = Array.from({ length: Math.ceil(n / PER_DEVICE) }, (_, i) => device(`gone-${i}`, 'Stations'));
  const { daemon, port, post, agent, logs } = await startHttpDaemon(t, devs, { clock, logLevel: 'debug', over: { http: { maxWaitSec: 60 } } });
  const api = daemon.internals.http!.api;
  for (const dev of devs) {
    const { client } = await RawClient.open(port, dev.uid, dev.key);
    t.teardown(() => client.close());
    (client.received as Transmission[]).push = () => 0;
  }
  const fd0 = fdCount();
  const ac = new AbortController();
  const outcomes: string[] = [];
  const pending: Array<Promise<void>> = [];
  for (let j = 0; j < n; j++) {
    pending.push(post('/request', { UID: devs[Math.floor(j / PER_DEVICE)]!.uid, Timeout: TIMEOUT_SEC, Format: 'ASCII', Payload: `q${j}` }, { signal: ac.signal })
      .then((a) => void outcomes.push(`answer ${a.status}`), (e: Error) => void outcomes.push(e.name)));
    if (j % BATCH === BATCH - 1) await until(() => api.held > j, 30_000);
  }
  t.ok(await until(() => api.held === n, 30_000), `${n} held`);
  ac.abort();
  await Promise.all(pending);
  t.same([...new Set(outcomes)], ['AbortError'], 'every caller left');
  t.ok(await until(() => fdCount() <= fd0, 10_000), `the callers' sockets closed on both ends while still held (fds ${fd0}, now ${fdCount()})`);
  t.equal(api.held, n, 'still held (their tracking numbers stay reserved until the timeout)');
  clock.advance(TIMEOUT_SEC * 1000);
  await settle();
  t.equal(api.held, 0, 'nothing held after the timeout');
  t.equal(daemon.internals.tracker.size, 0, 'tracker empty');
  const discarded = logs.find('http-answer-discarded').length;
  t.equal(discarded, n, 'each answer discarded once (logged at debug)');
  t.equal(logs.lines.filter((l) => l.level >= 50).length, 0, 'no error logged');
  await agent.close();
  t.ok(fdCount() <= fd0, `fd count at baseline (${fd0}, now ${fdCount()})`);
  t.comment(`held callers gone: ${JSON.stringify({ n, discarded, fd0, fd1: fdCount() })}`);
});
