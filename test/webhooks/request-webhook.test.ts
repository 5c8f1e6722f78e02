import t, { type Test } from 'tap';
import { ManualClock } from '../../src/clock.js';
import { Format, ResponseCode, ToT, type Payload } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/until.js';
import { WebhookReceiver, refusedUrl, type Hit } from '../helpers/webhook-receiver.js';

const dev = device('st-1', 'Stations');
const p = (s: string, format: number = Format.ASCII): Payload => ({ format, options: 0, data: Buffer.from(s) });

/** A daemon whose request webhook is `url`, and one connected object (no central session). */
async function setup(t: Test, url: string, over: any = {}) {
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { ...over, central: { webhooks: { request: url, timeoutSec: 5, ...over.webhooks } } }), [dev], { clock });
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => obj.close());
  const ask = async (tracking: number, payload: Payload = p('hello')) => {
    obj.send({ type: ToT.REQUEST, tracking, payload });
    return obj.nextOf(ToT.RESPONSE);
  };
  const posts = (outcome: string) => d.daemon.internals.metrics.value('iotsocket_webhook_posts_total', { hook: 'request', outcome });
  return { ...d, clock, obj, ask, posts };
}

t.test('object request → POST {UID, Payload, Format} with the Bearer key → the central answer becomes the Response', async (t) => {
  const hook = await WebhookReceiver.start(t);
  hook.answer = (h) => h.reply(200, { Code: 0, Payload: { on: true, level: 3 }, Format: 'JSON' });
  const { ask } = await setup(t, hook.url('/req'));
  const r = await ask(7, p('{"get":"state"}', Format.JSON));
  const hit = hook.hits[0]!;
  t.equal(hit.path, '/req');
  t.equal(hit.headers.authorization, `Bearer ${CENTRAL_KEY.toString('hex')}`, 'Bearer central key');
  t.match(hit.headers['content-type'], /^application\/json/);
  t.same(hit.body, { UID: dev.uid, Payload: { get: 'state' }, Format: 'JSON' }, 'JSON payload sent as a JSON value');
  t.same([r.tracking, r.code, r.payload.format, r.payload.data.toString()], [7, 0, Format.JSON, '{"on":true,"level":3}'], 'code 0 and the central payload');
});

t.test("the central's code 1 and other formats pass through", async (t) => {
  const hook = await WebhookReceiver.start(t);
  const answers: unknown[] = [
    { Code: 1, Payload: 'refused', Format: 'ASCII' },
    { Code: 0, Payload: [0, 255, 16], Format: 'BINARY' },
    { Code: 0, Payload: 'ünïcode', Format: 'UTF8' },
    { Code: 1, Payload: null },
  ];
  hook.answer = (h) => h.reply(200, answers[hook.hits.length - 1]);
  const { ask } = await setup(t, hook.url());
  const r1 = await ask(1, { format: Format.BINARY, options: 0, data: Buffer.from([1, 2]) });
  t.same(hook.hits[0]!.body, { UID: dev.uid, Payload: [1, 2], Format: 'BINARY' }, 'BINARY as an array of bytes');
  t.same([r1.code, r1.payload.format, r1.payload.data.toString()], [1, Format.ASCII, 'refused']);
  const r2 = await ask(2);
  t.same([r2.code, r2.payload.format, [...r2.payload.data]], [0, Format.BINARY, [0, 255, 16]]);
  const r3 = await ask(3);
  t.same([r3.payload.format, r3.payload.data.toString()], [Format.UTF8, 'ünïcode']);
  const r4 = await ask(4);
  t.same([r4.code, r4.payload.data.length], [1, 0], 'Payload null and no Format: empty payload');
});

const failures: Array<[string, (h: Hit) => void, number]> = [
  ['500', (h) => h.reply(500, { error: 'boom' }), ResponseCode.NOT_VALID],
  ['404', (h) => h.reply(404), ResponseCode.NOT_VALID],
  ['invalid JSON', (h) => h.reply(200, '{"Code": 0,'), ResponseCode.NOT_VALID],
  ['a JSON array', (h) => h.reply(200, [1]), ResponseCode.NOT_VALID],
  ['no Code', (h) => h.reply(200, { Payload: 'x', Format: 'ASCII' }), ResponseCode.NOT_VALID],
  ['Code 256', (h) => h.reply(200, { Code: 256, Payload: null }), ResponseCode.NOT_VALID],
  ['unknown Format', (h) => h.reply(200, { Code: 0, Payload: 'x', Format: 'TEXT' }), ResponseCode.NOT_VALID],
  ['non-ASCII in ASCII', (h) => h.reply(200, { Code: 0, Payload: 'é', Format: 'ASCII' }), ResponseCode.NOT_VALID],
  ['a byte over 255', (h) => h.reply(200, { Code: 0, Payload: [256], Format: 'BINARY' }), ResponseCode.NOT_VALID],
];

for (const [name, answer, code] of failures) {
  t.test(`webhook answer ${name} → the object gets 0x${code.toString(16).padStart(2, '0')}`, async (t) => {
    const hook = await WebhookReceiver.start(t);
    hook.answer = answer;
    const { ask, obj } = await setup(t, hook.url());
    const r = await ask(11);
    t.same([r.tracking, r.code, r.payload.data.length], [11, code, 0]);
    obj.send({ type: ToT.PING });
    t.equal((await obj.next()).type, ToT.PONG, 'exactly one response');
  });
}

t.test('refused connection → 0x01', async (t) => {
  const { ask, posts } = await setup(t, await refusedUrl());
  t.equal((await ask(3)).code, ResponseCode.NOT_VALID);
  t.equal(await posts('connection-error'), 1, 'counted as a connection error');
});

t.test('no answer within central.webhooks.timeoutSec → 0xA1, once', async (t) => {
  const hook = await WebhookReceiver.start(t);
  hook.answer = () => {}; // hold
  const { obj, clock, posts, daemon } = await setup(t, hook.url());
  obj.send({ type: ToT.REQUEST, tracking: 5, payload: p('slow') });
  const held = await hook.next();
  clock.advance(4_999);
  obj.send({ type: ToT.PING });
  t.equal((await obj.next()).type, ToT.PONG, 'nothing before the webhook timeout');
  clock.advance(1);
  const r = await obj.nextOf(ToT.RESPONSE);
  t.same([r.tracking, r.code], [5, ResponseCode.TIMEOUT]);
  await until(async () => (await posts('timeout')) === 1, 'the timeout to be counted');
  held.reply(200, { Code: 0, Payload: null });
  clock.advance(10_000);
  obj.send({ type: ToT.PING });
  t.equal((await obj.next()).type, ToT.PONG, 'no second response, even after the tracker timeout');
  t.equal(daemon.internals.tracker.size, 0);
});

t.test('the tracker timeout fires first → 0xA1 once; the late webhook answer is dropped and counted', async (t) => {
  const hook = await WebhookReceiver.start(t);
  hook.answer = () => {};
  const { obj, clock, daemon } = await setup(t, hook.url(), { tcp: { requestTimeoutSec: 2 } });
  obj.send({ type: ToT.REQUEST, tracking: 9, payload: p('x') });
  const held = await hook.next();
  clock.advance(2_000);
  t.same((await obj.nextOf(ToT.RESPONSE)).code, ResponseCode.TIMEOUT);
  held.reply(200, { Code: 0, Payload: 'late', Format: 'ASCII' });
  await until(async () => (await daemon.internals.metrics.value('iotsocket_late_responses_total', { direction: 'up' })) === 1, 'the late answer to be counted');
  obj.send({ type: ToT.PING });
  t.equal((await obj.next()).type, ToT.PONG, 'the late answer never reached the object');
});

t.test('the tracker timeout fires first, then the webhook times out with no answer: nothing is counted late', async (t) => {
  const hook = await WebhookReceiver.start(t);
  hook.answer = () => {};
  const { obj, clock, daemon, posts } = await setup(t, hook.url(), { tcp: { requestTimeoutSec: 2 } });
  obj.send({ type: ToT.REQUEST, tracking: 9, payload: p('x') });
  await hook.next();
  clock.advance(2_000);
  t.same((await obj.nextOf(ToT.RESPONSE)).code, ResponseCode.TIMEOUT, '0xA1 at the tracker timeout');
  clock.advance(3_000); // the webhook's own 5 s deadline
  await until(async () => (await posts('timeout')) === 1, 'the webhook timeout to be counted');
  t.equal(await daemon.internals.metrics.value('iotsocket_late_responses_total', { direction: 'up' }), 0, 'no answer came, so no late response');
});

t.test('a payload with no JSON form is answered 0x01 without a POST', async (t) => {
  const hook = await WebhookReceiver.start(t);
  const { ask } = await setup(t, hook.url());
  t.equal((await ask(1, { format: Format.ASCII, options: 0, data: Buffer.from([0x80]) })).code, ResponseCode.NOT_VALID, 'non-ASCII byte');
  t.equal((await ask(2, { format: Format.JSON, options: 0, data: Buffer.from('{nope') })).code, ResponseCode.NOT_VALID, 'invalid JSON');
  t.equal((await ask(3, { format: 0x7, options: 0, data: Buffer.from('?') })).code, ResponseCode.NOT_VALID, 'unknown format');
  t.equal(hook.hits.length, 0, 'nothing posted');
});

t.test('sequential requests reuse one keep-alive connection', async (t) => {
  const hook = await WebhookReceiver.start(t);
  hook.answer = (h) => h.reply(200, { Code: 0, Payload: null });
  const { ask } = await setup(t, hook.url());
  for (let i = 0; i < 20; i++) t.equal((await ask(i)).code, 0, `request ${i}`);
  t.equal(hook.hits.length, 20);
  t.equal(hook.connections, 1, 'one connection for 20 posts');
});

t.test('the webhook is not used while the central has a TCP session', async (t) => {
  const hook = await WebhookReceiver.start(t);
  const { obj, port } = await setup(t, hook.url());
  const central = (await RawClient.open(port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());
  obj.send({ type: ToT.REQUEST, tracking: 4, payload: p('tcp') });
  const req = await central.nextOf(ToT.REQUEST);
  t.same([req.uid, req.tracking], [dev.uid, 4], 'went to the TCP central');
  central.send({ type: ToT.RESPONSE, uid: dev.uid, tracking: 4, code: 0, payload: p('ok') });
  t.equal((await obj.nextOf(ToT.RESPONSE)).payload.data.toString(), 'ok');
  t.equal(hook.hits.length, 0, 'webhook not called');
});
