import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { ManualClock } from '../../src/clock.js';
import { createConcentrator } from '../../src/daemon.js';
import { Format, ResponseCode, ToT, encodeDatagram } from '../../src/protocol/index.js';
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { UdpSender } from '../helpers/udp-sender.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const dev = device('dev-1');
const cert = generateSelfSigned();

t.test('HTTPS webhooks with a custom CA: request and telemetry delivered', async (t) => {
  const pair = await cert;
  const rx = await WebhookReceiver.start(t, { tls: pair });
  rx.answer = (h) => h.reply(200, h.path === '/req' ? { Code: 0, Payload: 'secure', Format: 'ASCII' } : {});
  const config = testConfig(t, { udp: { enabled: true } });
  const ca = join(config.baseDir, 'central-ca.pem');
  writeFileSync(ca, pair.cert);
  const d = await startDaemon(t, { ...config, central: { ...config.central, webhooks: { ...config.central.webhooks, request: rx.url('/req'), telemetry: rx.url('/tm'), timeoutSec: 5, ca } } }, [dev], { clock: new ManualClock() });
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => obj.close());
  const token = (await obj.nextOf(ToT.TOKEN)).token;
  obj.send({ type: ToT.REQUEST, tracking: 1, payload: { format: Format.ASCII, options: 0, data: Buffer.from('hi') } });
  const r = await obj.nextOf(ToT.RESPONSE);
  t.same([r.code, r.payload.data.toString()], [0, 'secure'], 'answer over HTTPS');
  const udp = await UdpSender.open(t);
  await udp.send(d.daemon.addresses!.udp!.port, encodeDatagram(token, { format: Format.ASCII, options: 0, data: Buffer.from('tm') }));
  const hit = await rx.next();
  const tm = hit.path === '/tm' ? hit : await rx.next();
  t.same(tm.body, { UID: dev.uid, Payload: 'tm', Format: 'ASCII' });
  t.equal(rx.connections, 2, 'one keep-alive connection per hook: request and telemetry have a pool each');
});

t.test('an HTTPS webhook whose certificate is not trusted is never used (→ 0x01)', async (t) => {
  const rx = await WebhookReceiver.start(t, { tls: await cert });
  const config = testConfig(t, { central: { webhooks: { request: rx.url('/req') } } });
  const d = await startDaemon(t, config, [dev]);
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => obj.close());
  obj.send({ type: ToT.REQUEST, tracking: 1, payload: { format: Format.ASCII, options: 0, data: Buffer.from('hi') } });
  t.equal((await obj.nextOf(ToT.RESPONSE)).code, ResponseCode.NOT_VALID);
  t.equal(rx.hits.length, 0, 'no request reached the untrusted server');
  t.equal(await d.daemon.internals.metrics.value('iotsocket_webhook_posts_total', { hook: 'request', outcome: 'connection-error' }), 1);
  const failed = d.logs.find('webhook-failed')[0];
  t.match(failed, { outcome: 'connection-error', error: /CERT|SIGNATURE|SELF_SIGNED/ }, 'the TLS error code is logged');
  t.notMatch(d.logs.raw.join('\n'), /Bearer|00112233445566778899aabbccddeeff/, 'the key is never logged');
});

t.test('webhook configuration errors are coded', async (t) => {
  const log = pino({ level: 'silent' });
  t.throws(() => createConcentrator(testConfig(t, { central: { webhooks: { request: 'ftp://central/x' } } }), { logger: log }), { code: 'ERR_IOTS_WEBHOOK_URL' });
  t.throws(() => createConcentrator(testConfig(t, { central: { webhooks: { telemetry: 'not a url' } } }), { logger: log }), { code: 'ERR_IOTS_WEBHOOK_URL' });
  const config = testConfig(t, { central: { webhooks: { request: 'https://127.0.0.1:1/x', ca: '/nonexistent/ca.pem' } } });
  const daemon = createConcentrator(config, { logger: log });
  t.teardown(() => daemon.close());
  await t.rejects(daemon.start(), { code: 'ERR_IOTS_WEBHOOK_CA' });
});
