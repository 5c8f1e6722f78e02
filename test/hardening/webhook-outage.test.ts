import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import { ManualClock } from '../../src/clock.js';
import { Format, ResponseCode, ToT, encodeDatagram, type Transmission } from '../../src/protocol/index.js';
import { testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { settle } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';
import { size, tick, until, watchCrashes } from '../helpers/stress.js';
import { UdpSender } from '../helpers/udp-sender.js';
import { WEBHOOK_PIPELINING } from '../../src/webhooks/webhook-client.js';
import { WebhookReceiver, refusedUrl, type Hit } from '../helpers/webhook-receiver.js';

const HOOK_TIMEOUT_SEC = 5;
const ascii = (s: string) => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });

/**
 * A daemon with the request and telemetry webhooks on one real local receiver, UDP on, no
 * central TCP session, and one connected telemetry object. The receiver answers as `mode` says.
 */
async function setup(t: Test, webhooks: Record<string, number> = {}) {
  const clock = new ManualClock();
  const rx = await WebhookReceiver.start(t);
  const dev = device('outage-dev');
  // The per-token rate limit counts ManualClock seconds, which barely pass here: raised so the flood is not rate-limited.
  const config = testConfig(t, {
    udp: { enabled: true, maxDatagramsPerSecPerToken: 1e9 },
    central: { webhooks: { request: rx.url('/request'), telemetry: rx.url('/telemetry'), timeoutSec: HOOK_TIMEOUT_SEC, ...webhooks } },
  });
  const d = await startDaemon(t, config, [dev], { clock, logLevel: 'warn' });
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => obj.close());
  const token = (await obj.nextOf(ToT.TOKEN)).token;
  const responses = new Map<number, number[]>(); // tracking → codes the object got
  (obj.received as Transmission[]).push = (...ts: Transmission[]) => {
    for (const x of ts) if (x.type === ToT.RESPONSE) responses.set(x.tracking, [...(responses.get(x.tracking) ?? []), x.code]);
    return 0;
  };
  const metrics = d.daemon.internals.metrics;
  const posts = (hook: string, outcome: string) => metrics.value('iotsocket_webhook_posts_total', { hook, outcome });
  const queueDropped = (reason?: string) => metrics.value('iotsocket_webhook_queue_dropped_total', reason ? { hook: 'telemetry', reason } : { hook: 'telemetry' });
  return { ...d, clock, rx, dev, obj, token, responses, metrics, posts, queueDropped, udpPort: d.daemon.addresses!.udp!.port };
}

/** Polls an async figure until it reaches `want` (bounded in real time). */
async function reach(f: () => Promise<number>, want: number, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms;
  while ((await f()) < want) {
    if (Date.now() > end) return false;
    await tick();
  }
  return true;
}

t.test('telemetry webhook down (500), then back: retried with backoff in the bounded queue, delivered once, overflow counted', async (t) => {
  const crashes = watchCrashes(t);
  // central.webhooks.queueMaxItems: 200 reduced, the default 10 000 full; either way some datagrams do not fit.
  const bound = size(200, 10_000);
  const s = await setup(t, { queueMaxItems: bound });
  const { clock, rx, posts, queueDropped, metrics } = s;
  const n = bound + size(100, 2_000);
  const cap = bound;
  let up = false;
  const delivered = new Map<string, number>(); // payload → 200 answers
  rx.answer = (h: Hit) => {
    if (h.path !== '/telemetry') return h.reply(404);
    if (!up) return h.reply(500, { error: 'down' });
    delivered.set(h.body.Payload, (delivered.get(h.body.Payload) ?? 0) + 1);
    h.reply(200, {});
  };
  const udp = await UdpSender.open(t);
  const telemetry = () => metrics.value('iotsocket_telemetry_datagrams_total', { result: 'accepted', reason: 'webhook' });
  const t0 = Date.now();
  for (let i = 0; i < n; i += 500) {
    const sends: Array<Promise<void>> = [];
    for (let j = i; j < Math.min(n, i + 500); j++) sends.push(udp.send(s.udpPort, encodeDatagram(s.token, ascii(`s${j}`))));
    await Promise.all(sends);
    if (!(await reach(telemetry, Math.min(n, i + 500) - 1_000, 10_000))) break; // flow control: the kernel buffer never overflows
  }
  t.ok(await reach(telemetry, n), `${n} datagrams accepted for the telemetry webhook`);
  t.equal(await queueDropped('queue-full'), n - cap, `${n - cap} over the queue bound (${bound}) dropped and counted queue-full`);
  t.equal(s.daemon.internals.webhooks!.telemetryHeld, cap, `${cap} held`);
  t.ok(await reach(() => posts('telemetry', 'http-error'), cap), `first attempt of all ${cap} answered 500`);
  const fillMs = Date.now() - t0;

  // Backoff: the second attempt comes 250–500 ms later (base 500 ms, jitter 50–100 %), the third 500–1000 ms after it.
  clock.advance(249);
  await settle(50);
  t.equal(await posts('telemetry', 'http-error'), cap, 'no retry before 250 ms');
  clock.advance(251);
  t.ok(await reach(() => posts('telemetry', 'http-error'), 2 * cap), 'all retried once by 500 ms, still 500');
  t.equal(delivered.size, 0, 'nothing delivered while down');

  up = true;
  const t1 = Date.now();
  clock.advance(499);
  await settle(50);
  t.equal(await posts('telemetry', 'success'), 0, 'no third attempt before 500 ms');
  clock.advance(501);
  t.ok(await reach(() => posts('telemetry', 'success'), cap), `all ${cap} delivered once back`);
  const recoverMs = Date.now() - t1;
  await settle(50);
  const dup = [...delivered.values()].filter((c) => c > 1).length;
  t.equal(delivered.size, cap, `${cap} distinct telemetry items delivered`);
  t.equal(dup, 0, '0 duplicates');
  t.ok([...Array(cap).keys()].every((i) => delivered.has(`s${i}`)), 'the first datagrams are the ones held and delivered (arrival order)');
  t.equal(s.daemon.internals.webhooks!.telemetryHeld, 0, 'queue empty');
  t.equal(await queueDropped(), n - cap, 'queue-full is the only drop (no gave-up, no rejected)');
  t.equal(crashes.count, 0, 'no uncaught exception');
  t.comment(`webhook outage, telemetry: ${JSON.stringify({
    datagrams: n, queueBound: bound, droppedQueueFull: n - cap, attemptsWhileDown: await posts('telemetry', 'http-error'),
    delivered: delivered.size, duplicates: dup, fillMs, recoverMs, hits: rx.hits.length,
  })}`);
});

t.test('request webhook down, holding, then back: the object gets 0x01, then 0xA1 at timeoutSec, then the answer', async (t) => {
  const s = await setup(t);
  const { clock, rx, obj, responses, metrics } = s;
  const m = size(10, 32); // limits.maxRequestsInFlightPerObject: 32
  let mode: 'error' | 'reset' | 'hold' | 'up' = 'error';
  const heldHits: Hit[] = [];
  rx.answer = (h: Hit) => {
    if (mode === 'error') h.reply(500, { error: 'down' });
    else if (mode === 'reset') h.res.socket?.destroy();
    else if (mode === 'hold') heldHits.push(h);
    else h.reply(200, { Code: ResponseCode.VALID, Payload: `ok ${h.body.Payload}`, Format: 'ASCII' });
  };
  let tracking = 0;
  const round = async (label: string, expect: number, fire?: () => void) => {
    const first = tracking;
    for (let i = 0; i < m; i++, tracking++) obj.send({ type: ToT.REQUEST, tracking, payload: ascii(`r${tracking}`) });
    fire?.();
    const ok = await until(() => [...Array(m).keys()].every((i) => responses.has(first + i)), 10_000);
    const codes = [...Array(m).keys()].map((i) => responses.get(first + i) ?? []);
    t.ok(ok && codes.every((c) => c.length === 1 && c[0] === expect), `${label}: ${m} requests answered 0x${expect.toString(16).padStart(2, '0')}, once each`);
  };

  await round('500', ResponseCode.NOT_VALID);
  mode = 'reset';
  await round('connection reset', ResponseCode.NOT_VALID);
  mode = 'hold';
  const holdFrom = tracking;
  for (let i = 0; i < m; i++, tracking++) obj.send({ type: ToT.REQUEST, tracking, payload: ascii(`r${tracking}`) });
  t.ok(await until(() => heldHits.length === m, 10_000), `${m} request webhooks held by the receiver`);
  clock.advance(HOOK_TIMEOUT_SEC * 1000 - 1);
  await settle(50);
  t.notOk([...Array(m).keys()].some((i) => responses.has(holdFrom + i)), 'no answer 1 ms before central.webhooks.timeoutSec');
  clock.advance(1);
  t.ok(await until(() => [...Array(m).keys()].every((i) => responses.has(holdFrom + i)), 10_000), 'answered at the timeout');
  t.ok([...Array(m).keys()].every((i) => responses.get(holdFrom + i)?.join() === String(ResponseCode.TIMEOUT)), `hold: ${m} requests answered 0xa1, once each`);
  for (const h of heldHits) h.reply(200, { Code: 0, Payload: 'late', Format: 'ASCII' }); // aborted by the client: never delivered
  mode = 'up';
  await round('back up', ResponseCode.VALID);
  await settle(50);
  const dup = [...responses.values()].filter((c) => c.length > 1).length;
  t.equal(dup, 0, 'no request answered twice');
  t.equal(s.daemon.internals.tracker.size, 0, 'nothing left tracked');
  const outcomes: Record<string, number> = {};
  for (const o of ['success', 'http-error', 'connection-error', 'timeout']) outcomes[o] = await metrics.value('iotsocket_webhook_posts_total', { hook: 'request', outcome: o });
  t.same(outcomes, { success: m, 'http-error': m, 'connection-error': m, timeout: m }, 'one POST per request, each counted by outcome');
  t.comment(`webhook outage, requests: ${JSON.stringify({ perPhase: m, outcomes, duplicates: dup })}`);
});

t.test('a stalled telemetry endpoint does not starve the request webhook on the same origin', async (t) => {
  const s = await setup(t);
  const { clock, rx, obj, responses, posts } = s;
  const stalled: Hit[] = [];
  // The central's telemetry endpoint hangs (never answers); its request endpoint answers at once.
  rx.answer = (h: Hit) => {
    if (h.path === '/telemetry') return void stalled.push(h);
    h.reply(200, { Code: ResponseCode.VALID, Payload: 'ok', Format: 'ASCII' });
  };
  const udp = await UdpSender.open(t);
  const inFlight = s.config.central.webhooks.connections * WEBHOOK_PIPELINING; // the queue's bound on POSTs in flight
  const n = inFlight + 50;
  for (let i = 0; i < n; i++) await udp.send(s.udpPort, encodeDatagram(s.token, ascii(`s${i}`)));
  t.ok(await until(() => stalled.length === inFlight, 10_000), `${stalled.length} telemetry POSTs hanging (the queue's ${inFlight} in flight)`);
  await settle(20);
  t.equal(stalled.length, inFlight, `no more than ${inFlight} before the webhook timeout; the other 50 wait in the queue`);
  obj.send({ type: ToT.REQUEST, tracking: 1, payload: ascii('q') });
  // No clock move: the webhook timeout cannot be what answers it.
  const answered = await until(() => responses.has(1), 5_000);
  t.ok(answered, 'the request webhook was posted and answered while telemetry hangs');
  t.same(responses.get(1), [ResponseCode.VALID], 'the object got the central\'s 0x00, not 0xA1');
  clock.advance(HOOK_TIMEOUT_SEC * 1000);
  await settle(20);
  t.comment(`stalled telemetry: ${JSON.stringify({ inFlight, hitsAfterTimeout: stalled.length, requestAnswered: answered, requestSuccess: await posts('request', 'success'), requestTimeout: await posts('request', 'timeout') })}`);
});

t.test('telemetry webhook refusing connections, then listening again on the same port: every item delivered once', async (t) => {
  const clock = new ManualClock();
  const url = new URL(await refusedUrl());
  const dev = device('refused-dev');
  const config = testConfig(t, { udp: { enabled: true, maxDatagramsPerSecPerToken: 1e9 }, central: { webhooks: { telemetry: url.href, timeoutSec: HOOK_TIMEOUT_SEC } } });
  const d = await startDaemon(t, config, [dev], { clock, logLevel: 'warn' });
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => obj.close());
  const token = (await obj.nextOf(ToT.TOKEN)).token;
  const posts = (outcome: string) => d.daemon.internals.metrics.value('iotsocket_webhook_posts_total', { hook: 'telemetry', outcome });
  const n = size(100, 2_000);
  const udp = await UdpSender.open(t);
  for (let i = 0; i < n; i++) {
    await udp.send(d.daemon.addresses!.udp!.port, encodeDatagram(token, ascii(`s${i}`)));
    if (i % 500 === 499) await reach(() => posts('connection-error'), i - 1_000);
  }
  t.ok(await reach(() => posts('connection-error'), n), `first attempt of all ${n}: connection refused`);
  const delivered = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const p = JSON.parse(Buffer.concat(chunks).toString()).Payload as string;
      delivered.set(p, (delivered.get(p) ?? 0) + 1);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(Number(url.port), '127.0.0.1', resolve); });
  t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  clock.advance(500); // every first retry is due within 250–500 ms
  t.ok(await reach(() => posts('success'), n), `all ${n} delivered once the endpoint listens again`);
  await settle(50);
  const dup = [...delivered.values()].filter((c) => c > 1).length;
  t.equal(delivered.size, n, `${n} distinct items`);
  t.equal(dup, 0, '0 duplicates');
  t.equal(d.daemon.internals.webhooks!.telemetryHeld, 0, 'queue empty');
  t.equal(await d.daemon.internals.metrics.value('iotsocket_webhook_queue_dropped_total'), 0, 'nothing dropped');
  t.comment(`webhook refusing, then back: ${JSON.stringify({ items: n, connectionErrors: await posts('connection-error'), delivered: delivered.size, duplicates: dup })}`);
});
