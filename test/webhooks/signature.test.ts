import t, { type Test } from 'tap';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { pino } from 'pino';
import { ManualClock } from '../../src/clock.js';
import { Metrics } from '../../src/observability/metrics.js';
import { Format, ToT, encodeDatagram } from '../../src/protocol/index.js';
import { QueuedWebhook, queueLimits } from '../../src/webhooks/queued-webhook.js';
import { WebhookClient } from '../../src/webhooks/webhook-client.js';
import { WebhookSigner, decodeWebhookSecret, webhookSignature } from '../../src/webhooks/webhook-signature.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { UdpSender } from '../helpers/udp-sender.js';
import { until } from '../helpers/until.js';
import { WebhookReceiver, type Hit } from '../helpers/webhook-receiver.js';

const SECRET = `whsec_${Buffer.from('a test secret of thirty-two bytes').toString('base64')}`;
const EPOCH = Date.UTC(2026, 5, 1, 12, 0, 0);

/**
 * A receiver's check, written from the Standard Webhooks spec and sharing no code with src/:
 * decode the secret, HMAC-SHA256 "id.timestamp.body", compare with each `v1,` entry.
 */
function verify(secret: string, hit: Hit): boolean {
  const id = hit.headers['webhook-id'];
  const ts = hit.headers['webhook-timestamp'];
  const sigs = hit.headers['webhook-signature'];
  if (typeof id !== 'string' || typeof ts !== 'string' || typeof sigs !== 'string') return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${hit.raw}`, 'utf8').digest();
  return sigs.split(' ').some((s) => {
    const [version, b64] = s.split(',');
    const got = Buffer.from(b64 ?? '', 'base64');
    return version === 'v1' && got.length === expected.length && timingSafeEqual(got, expected);
  });
}

t.test('the Standard Webhooks reference vector', async (t) => {
  const key = decodeWebhookSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  t.ok(Buffer.isBuffer(key));
  t.equal(webhookSignature(key as Buffer, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'), 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  const signer = new WebhookSigner(key as Buffer, new ManualClock(1614265330_999), () => 'msg_p5jXN8AQM9LWM0D4loKWxJek');
  t.same(signer.sign('{"test": 2432232314}'), {
    'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  }, 'whole seconds of the injected clock');
});

function queued(t: Test, url: string, signingKey?: Buffer) {
  const clock = new ManualClock(EPOCH);
  const metrics = new Metrics();
  const client = new WebhookClient({ authKey: CENTRAL_KEY, signingKey, clock, metrics });
  const hook = new QueuedWebhook('telemetry', new URL(url), { client, clock, metrics, log: pino({ level: 'silent' }), timeoutMs: 5_000 }, { ...queueLimits(testConfig(t).central.webhooks), backoffBaseMs: 1_000 });
  t.teardown(() => { hook.close(); return client.close(); });
  return { clock, hook, posts: (outcome: string) => metrics.value('iotsocket_webhook_posts_total', { hook: 'telemetry', outcome }) };
}

t.test('a retried message keeps its id, timestamp and signature; each message has its own id', async (t) => {
  const rx = await WebhookReceiver.start(t);
  rx.answer = (h) => h.reply(rx.hits.length === 1 ? 503 : 200, {});
  const { clock, hook, posts } = queued(t, rx.url(), decodeWebhookSecret(SECRET) as Buffer);
  hook.enqueue('dev-1', '{"UID":"dev-1","Payload":"a","Format":"ASCII"}');
  const first = await rx.next();
  await until(async () => (await posts('http-error')) === 1 && clock.pending === 1, 'a retry timer');
  clock.advance(1_000);
  const retry = await rx.next();
  t.ok(verify(SECRET, first) && verify(SECRET, retry), 'both attempts verify');
  for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) t.equal(retry.headers[h], first.headers[h], `${h} unchanged on retry`);
  t.equal(first.headers['webhook-timestamp'], String(EPOCH / 1000), 'timestamp from the injected clock');
  t.match(first.headers['webhook-id'], /^msg_[0-9a-f-]{36}$/);
  t.equal(first.headers.authorization, `Bearer ${CENTRAL_KEY.toString('hex')}`, 'the Bearer header stays (PROTOCOL §8)');
  hook.enqueue('dev-1', '{"UID":"dev-1","Payload":"a","Format":"ASCII"}');
  const other = await rx.next();
  t.ok(verify(SECRET, other));
  t.not(other.headers['webhook-id'], first.headers['webhook-id'], 'the same body sent again is a new message');
  t.notOk(verify(`whsec_${Buffer.alloc(32).toString('base64')}`, first), 'another secret does not verify');
});

t.test('no secret: no signature headers', async (t) => {
  const rx = await WebhookReceiver.start(t);
  const { hook } = queued(t, rx.url());
  hook.enqueue('dev-1', '{}');
  const hit = await rx.next();
  t.same(Object.keys(hit.headers).filter((h) => h.startsWith('webhook-')), []);
  t.ok(hit.headers.authorization);
});

t.test('the daemon signs request, telemetry and presence webhooks', async (t) => {
  const rx = await WebhookReceiver.start(t);
  rx.answer = (h) => h.reply(200, h.path === '/req' ? { Code: 0, Payload: 'ok', Format: 'ASCII' } : {});
  const dev = device('dev-1');
  const base = testConfig(t, { udp: { enabled: true } });
  const secret = decodeWebhookSecret(SECRET) as Buffer;
  const config = { ...base, central: { ...base.central, webhooks: { ...base.central.webhooks, request: rx.url('/req'), telemetry: rx.url('/tm'), presence: rx.url('/pr'), timeoutSec: 5, secret } } };
  const d = await startDaemon(t, config, [dev], { clock: new ManualClock(EPOCH) });
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => obj.close());
  const token = (await obj.nextOf(ToT.TOKEN)).token;
  obj.send({ type: ToT.REQUEST, tracking: 1, payload: { format: Format.ASCII, options: 0, data: Buffer.from('hi') } });
  t.equal((await obj.nextOf(ToT.RESPONSE)).code, 0);
  const udp = await UdpSender.open(t);
  await udp.send(d.daemon.addresses!.udp!.port, encodeDatagram(token, { format: Format.ASCII, options: 0, data: Buffer.from('tm') }));
  await until(() => new Set(rx.hits.map((h) => h.path)).size === 3, 'request, telemetry and presence hits');
  for (const path of ['/req', '/tm', '/pr']) {
    const hit = rx.hits.find((h) => h.path === path)!;
    t.ok(verify(SECRET, hit), `${path}: the signature verifies`);
    t.equal(hit.headers['webhook-timestamp'], String(EPOCH / 1000), `${path}: timestamp`);
  }
  t.equal(new Set(rx.hits.map((h) => h.headers['webhook-id'])).size, rx.hits.length, 'one id per message');
});
