import t from 'tap';
import { writeFileSync } from 'node:fs';
import { ManualClock } from '../../src/clock.js';
import { createConcentrator } from '../../src/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  CHALLENGE_LENGTH, Format, ToT, computeMac, encodeAuthAnswer, encodeInitiation, encodeTransmission,
} from '../../src/protocol/index.js';
import { formatAclJson } from '../../src/registry/acl-file.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { LogSink, device } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { size, sleep } from '../helpers/stress.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/** A manual handshake that keeps the MAC it sent, so the test can look for it in the logs. */
async function handshake(port: number, uid: string, key: Buffer, macs: Buffer[]): Promise<RawClient> {
  const c = await RawClient.connect(port);
  c.write(encodeInitiation({ tls: false, version: 1, options: 0, maxTransmissionLength: 0 }));
  if (!(await c.readAnswer()).ok) return c; // banned IP: refused before any challenge
  const challenge = await c.read(CHALLENGE_LENGTH);
  const mac = computeMac(key, challenge);
  macs.push(mac);
  c.write(encodeAuthAnswer(uid, mac));
  await c.read(1).catch(() => Buffer.alloc(0));
  return c;
}

t.test('secrets never reach the logs, even at level trace', async (t) => {
  const rounds = size(3, 30);
  // The ban starts with the last failure, so every earlier attempt goes as far as the MAC check.
  // Presence webhooks signed with a Standard Webhooks secret: every session event posts one.
  const rx = await WebhookReceiver.start(t);
  rx.answer = (h) => h.reply(rx.hits.length % 2 === 0 ? 500 : 200, {}); // some retries too
  const webhookSecret = Buffer.from('whsec test secret, 32 bytes long');
  const config = testConfig(t, {
    limits: { authFailuresPerMinute: rounds * 3, authBanSec: 60 }, log: { level: 'trace' },
    central: { webhooks: { presence: rx.url('/presence'), secret: webhookSecret } },
  });
  const devs = [device('sec-1'), device('sec-2', 'Stations'), device('sec-4')];
  writeFileSync(config.acl.file, formatAclJson(devs));
  const sink = new LogSink();
  const clock = new ManualClock();
  const d = createConcentrator(config, { logger: createLogger({ level: 'trace', destination: sink }), clock });
  t.teardown(() => d.close());
  const port = (await d.start()).tcp.port;
  const macs: Buffer[] = [];
  const tokens: Buffer[] = [];
  const clients: RawClient[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  for (let r = 0; r < rounds; r++) {
    // Handshake failures: wrong keys (the MAC of a wrong key and of the right key for another UID), unknown UID, the central with a device key.
    clients.push(await handshake(port, devs[0]!.uid, devs[1]!.key, macs));
    clients.push(await handshake(port, 'ghost', devs[0]!.key, macs));
    clients.push(await handshake(port, '', devs[0]!.key, macs));
  }
  clock.advance(61_000); // the IP ban those failures started is over
  // Successful sessions (their MACs too), a token, requests, protocol errors, ACL updates accepted and rejected.
  const central = await handshake(port, '', CENTRAL_KEY, macs);
  const obj = await handshake(port, devs[0]!.uid, devs[0]!.key, macs);
  clients.push(central, obj);
  const s1 = await RawClient.open(port, devs[1]!.uid, devs[1]!.key);
  const tokenHolder = await RawClient.open(port, devs[2]!.uid, devs[2]!.key);
  clients.push(s1.client, tokenHolder.client);
  tokens.push((await tokenHolder.client.nextOf(ToT.TOKEN)).token);
  for (let i = 0; i < 5; i++) {
    central.write(encodeTransmission({ type: ToT.REQUEST, uid: devs[0]!.uid, tracking: i, payload: { format: Format.BINARY, options: 0, data: devs[0]!.key } }));
  }
  const newKey = Buffer.from('f00dfeedc0ffee0123456789abcdef42', 'hex');
  central.write(encodeTransmission({ type: ToT.ACL, entries: [...devs, { group: 'Devices', uid: 'sec-3', key: newKey }].map((x) => ({ group: x.group, uid: x.uid, key: x.key })) }));
  central.write(encodeTransmission({ type: ToT.ACL, entries: [{ group: 'Nope', uid: 'bad', key: Buffer.alloc(16, 0xab) }, ...devs.map((x) => ({ group: x.group, uid: x.uid, key: x.key }))] }));
  await d.internals.acl.flush();
  s1.client.write(encodeTransmission({ type: ToT.ACL, entries: [{ group: 'Devices', uid: 'x', key: CENTRAL_KEY }] })); // protocol error: ACL from an object
  obj.write(Buffer.concat([Buffer.from([0x70]), devs[0]!.key])); // unknown ToT followed by key bytes
  await sleep(100);
  await d.close();
  t.ok(rx.hits.length > 0 && rx.hits.every((h) => typeof h.headers['webhook-signature'] === 'string'), 'signed webhooks were sent');

  const secrets: Array<[string, Buffer]> = [
    ['central key', CENTRAL_KEY], ['webhook secret', webhookSecret], ...devs.map((x) => [`key of ${x.uid}`, x.key] as [string, Buffer]), ['new ACL key', newKey],
    ...macs.map((m, i) => [`MAC #${i}`, m] as [string, Buffer]), ...tokens.map((k, i) => [`token #${i}`, k] as [string, Buffer]),
  ];
  const forms = (b: Buffer) => [b.toString('hex'), b.toString('hex').toUpperCase(), b.toString('base64'), [...b].join(',')];
  const leaks: string[] = [];
  for (const line of sink.raw) for (const [name, b] of secrets) if (forms(b).some((f) => line.includes(f))) leaks.push(`${name} in: ${line.slice(0, 200)}`);
  const events = new Set(sink.lines.map((l) => l.event));
  for (const e of ['ip-banned', 'handshake-refused', 'protocol-error', 'acl-replaced', 'acl-rejected', 'session-started']) t.ok(events.has(e), `exercised: ${e}`);
  t.same(leaks, [], 'no key, MAC, token or webhook secret (hex, HEX, base64 or byte list) in any log line');
  t.comment(`secrets: ${sink.raw.length} log lines at trace, ${secrets.length} secrets checked (${macs.length} MACs, ${tokens.length} tokens), ${leaks.length} leaks`);
});
