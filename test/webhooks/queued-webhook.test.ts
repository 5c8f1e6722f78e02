import t, { type Test } from 'tap';
import { pino } from 'pino';
import { ManualClock } from '../../src/clock.js';
import { Metrics } from '../../src/observability/metrics.js';
import { QueuedWebhook, queueLimits, type TelemetryQueueLimits } from '../../src/webhooks/queued-webhook.js';
import { WebhookClient } from '../../src/webhooks/webhook-client.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { until } from '../helpers/until.js';
import { WebhookReceiver, refusedUrl } from '../helpers/webhook-receiver.js';

/** The body the daemon queues for an ASCII telemetry payload `s`. */
const tb = (uid: string, s: string) => JSON.stringify({ UID: uid, Payload: s, Format: 'ASCII' });

/** A QueuedWebhook (telemetry) on its own, posting to `url` through a real client and pool. */
function setup(t: Test, url: string, limits: Partial<TelemetryQueueLimits> = {}, connectionsPerOrigin?: number) {
  const clock = new ManualClock();
  const metrics = new Metrics();
  const client = new WebhookClient({ authKey: CENTRAL_KEY, clock, metrics, connectionsPerOrigin });
  const hook = new QueuedWebhook('telemetry', new URL(url), { client, clock, metrics, log: pino({ level: 'silent' }), timeoutMs: 5_000 }, { ...queueLimits(testConfig(t).central.webhooks), ...limits });
  t.teardown(() => { hook.close(); return client.close(); });
  const dropped = (reason: string) => metrics.value('iotsocket_webhook_queue_dropped_total', { hook: 'telemetry', reason });
  const posts = (outcome: string) => metrics.value('iotsocket_webhook_posts_total', { hook: 'telemetry', outcome });
  /** Waits until `n` POSTs have ended with `outcome` and a retry timer is armed. */
  const failedAndWaiting = (outcome: string, n: number) =>
    until(async () => (await posts(outcome)) === n && clock.pending === 1, `${n} ${outcome} and a retry timer`);
  return { clock, metrics, client, hook, dropped, posts, failedAndWaiting };
}

t.test('a 500 is retried after the backoff, then delivered', async (t) => {
  const rx = await WebhookReceiver.start(t);
  rx.answer = (h) => h.reply(rx.hits.length === 1 ? 500 : 200, {});
  const { hook, clock, failedAndWaiting, posts, dropped } = setup(t, rx.url('/telemetry'), { backoffBaseMs: 1_000 });
  t.ok(hook.enqueue('dev-1', tb('dev-1', 't=1')));
  await rx.next();
  await failedAndWaiting('http-error', 1);
  t.equal(hook.held, 1, 'held while waiting to retry');
  clock.advance(1_000); // the first backoff is at most backoffBaseMs
  const second = await rx.next();
  t.same(second.body, { UID: 'dev-1', Payload: 't=1', Format: 'ASCII' }, 'same body again');
  t.equal(second.headers.authorization, `Bearer ${CENTRAL_KEY.toString('hex')}`);
  await until(() => hook.held === 0, 'delivery');
  t.equal(await posts('success'), 1);
  t.equal(await dropped('gave-up'), 0);
});

t.test('given up after maxAttempts with exponential backoff; counted', async (t) => {
  const rx = await WebhookReceiver.start(t);
  rx.answer = (h) => h.reply(503);
  const { hook, clock, failedAndWaiting, dropped } = setup(t, rx.url(), { maxAttempts: 3, backoffBaseMs: 100, backoffMaxMs: 150 });
  hook.enqueue('dev-1', tb('dev-1', 'x'));
  await failedAndWaiting('http-error', 1);
  clock.advance(49);
  t.equal(rx.hits.length, 1, 'no retry before half the first backoff (jitter floor)');
  clock.advance(51);
  await failedAndWaiting('http-error', 2);
  clock.advance(150); // second backoff: min(150, 200)
  await until(async () => (await dropped('gave-up')) === 1, 'the give-up to be counted');
  t.equal(rx.hits.length, 3, 'three attempts in all');
  t.equal(hook.held, 0);
});

t.test('connection errors are retried too', async (t) => {
  const { hook, clock, failedAndWaiting, dropped, posts } = setup(t, await refusedUrl(), { maxAttempts: 2, backoffBaseMs: 10 });
  hook.enqueue('dev-1', tb('dev-1', 'x'));
  await failedAndWaiting('connection-error', 1);
  clock.advance(10);
  await until(async () => (await dropped('gave-up')) === 1, 'the give-up');
  t.equal(await posts('connection-error'), 2, 'maxAttempts: 2 attempts, both connection errors');
  t.equal(hook.held, 0, 'nothing held after the give-up');
  t.equal(clock.pending, 0, 'no retry timer left');
});

t.test('a 4xx is not retried (rejected, counted)', async (t) => {
  const rx = await WebhookReceiver.start(t);
  rx.answer = (h) => h.reply(400, { error: 'no' });
  const { hook, dropped } = setup(t, rx.url());
  hook.enqueue('dev-1', tb('dev-1', 'x'));
  await until(async () => (await dropped('rejected')) === 1, 'the rejection');
  t.equal(rx.hits.length, 1);
  t.equal(hook.held, 0);
});

t.test('a full queue drops new telemetry and counts it (items and bytes)', async (t) => {
  const rx = await WebhookReceiver.start(t);
  rx.answer = () => {}; // hold every POST
  const { hook, dropped, metrics } = setup(t, rx.url(), { maxQueued: 3, concurrency: 1 });
  const taken = [1, 2, 3, 4, 5].map((i) => hook.enqueue('dev-1', tb('dev-1', `m${i}`)));
  t.same(taken, [true, true, true, false, false], 'three held (one posting, two queued), two dropped');
  t.equal(await dropped('queue-full'), 2);
  t.equal(await metrics.value('iotsocket_webhook_queued', { hook: 'telemetry' }), 3, 'gauge');
  await rx.next();
  t.equal(rx.hits.length, 1, 'concurrency 1: one POST in flight');
  rx.hits[0]!.reply(200);
  const next = await rx.next();
  t.equal(next.body.Payload, 'm2', 'the queue moves on once a POST ends');
  t.ok(hook.enqueue('dev-1', tb('dev-1', 'm6')), 'room again');

  const small = setup(t, rx.url(), { maxQueuedBytes: 100 });
  t.ok(small.hook.enqueue('dev-2', tb('dev-2', 'a'.repeat(40))));
  t.notOk(small.hook.enqueue('dev-2', tb('dev-2', 'b'.repeat(40))), 'byte bound reached');
  t.equal(await small.dropped('queue-full'), 1);
});

t.test('many posts, few connections (keep-alive pool)', async (t) => {
  const rx = await WebhookReceiver.start(t);
  const { hook } = setup(t, rx.url(), { concurrency: 8 }, 4);
  for (let i = 0; i < 200; i++) hook.enqueue(`dev-${i % 7}`, tb(`dev-${i % 7}`, `m${i}`));
  await until(() => hook.held === 0, 'all 200 delivered');
  t.equal(rx.hits.length, 200);
  t.ok(rx.connections >= 1 && rx.connections <= 4, `${rx.connections} connections for 200 posts (pool bound 4)`);
  for (let i = 0; i < 20; i++) {
    hook.enqueue('dev-1', tb('dev-1', `s${i}`));
    await until(() => hook.held === 0, `sequential post ${i}`);
  }
  t.equal(rx.hits.length, 220);
  t.ok(rx.connections <= 4, 'sequential posts open no new connection');
});

t.test('close() drops what is held (counted as shutdown), is idempotent, and refuses new telemetry', async (t) => {
  const rx = await WebhookReceiver.start(t);
  rx.answer = () => {};
  const { hook, client, dropped } = setup(t, rx.url(), { concurrency: 1 });
  hook.enqueue('dev-1', tb('dev-1', 'a'));
  hook.enqueue('dev-1', tb('dev-1', 'b'));
  await rx.next();
  hook.close();
  hook.close();
  await client.close();
  await client.close();
  await client.destroy();
  await until(() => hook.held === 0, 'nothing held');
  t.equal(await dropped('shutdown'), 2, 'the queued one and the aborted in-flight one');
  t.notOk(hook.enqueue('dev-1', tb('dev-1', 'c')));
  t.equal(await dropped('shutdown'), 3);
});

t.test('telemetry POSTs are pipelined: several in flight on one keep-alive connection', async (t) => {
  const rx = await WebhookReceiver.start(t);
  rx.answer = () => {}; // hold every answer
  const { hook } = setup(t, rx.url(), { concurrency: 4 }, 1);
  for (let i = 0; i < 4; i++) hook.enqueue('dev-1', tb('dev-1', `p${i}`));
  await until(() => rx.hits.length === 4, '4 POSTs at the receiver before any answer');
  t.equal(rx.connections, 1, 'over the one connection of the pool');
  for (const h of rx.hits) h.reply(200, {});
  await until(() => hook.held === 0, 'all delivered once answered');
});
