import t, { type Test } from 'tap';
import { Format, ToT } from '../../src/protocol/index.js';
import { ConnectionTrace, describeTransmission } from '../../src/session/transmission-trace.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/until.js';

const dev = device('trace-1');
const SECRET = 'PAYLOAD-MUST-NOT-BE-LOGGED';
const secretHex = Buffer.from(SECRET).toString('hex');

async function roundTrip(t: Test, port: number, tracking: number): Promise<void> {
  const central = (await RawClient.open(port, '', CENTRAL_KEY)).client;
  const obj = (await RawClient.open(port, dev.uid, dev.key)).client;
  t.teardown(() => { central.close(); obj.close(); });
  const payload = { format: Format.ASCII, options: 0, data: Buffer.from(SECRET) };
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking, payload });
  const req = await obj.nextOf(ToT.REQUEST);
  obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: 0, payload });
  await central.nextOf(ToT.RESPONSE);
}

/** Counts calls of the trace's line builders, so "none is built" is checked, not only "none is written". */
function countBuilds(t: Test): { n: number } {
  const calls = { n: 0 };
  const { received, sent } = ConnectionTrace.prototype;
  ConnectionTrace.prototype.received = function (this: ConnectionTrace, ...a) { calls.n++; return received.apply(this, a); };
  ConnectionTrace.prototype.sent = function (this: ConnectionTrace, ...a) { calls.n++; return sent.apply(this, a); };
  t.teardown(() => { Object.assign(ConnectionTrace.prototype, { received, sent }); });
  return calls;
}

t.test('at debug: one line per transmission in and out, with type, UID, tracking, code and length, never the payload or a key', async (t) => {
  const config = testConfig(t);
  const d = await startDaemon(t, config, [dev], { logLevel: 'debug' });
  await roundTrip(t, d.port, 7);
  const lines = () => d.logs.find('transmission');
  await until(() => lines().some((l) => l.dir === 'out' && l.tot === 'response'), 'the response sent to the central is traced');
  const pick = (l: Record<string, any>) => ({ dir: l.dir, uid: l.uid, tot: l.tot, rteUid: l.rteUid, tracking: l.tracking, code: l.code, length: l.length, format: l.format });
  const routed = lines().filter((l) => l.tot === 'request' || l.tot === 'response').map(pick);
  t.same(routed, [
    { dir: 'in', uid: '', tot: 'request', rteUid: dev.uid, tracking: 7, code: undefined, length: SECRET.length, format: 'ASCII' },
    { dir: 'out', uid: dev.uid, tot: 'request', rteUid: undefined, tracking: 7, code: undefined, length: SECRET.length, format: 'ASCII' },
    { dir: 'in', uid: dev.uid, tot: 'response', rteUid: undefined, tracking: 7, code: 0, length: SECRET.length, format: 'ASCII' },
    { dir: 'out', uid: '', tot: 'response', rteUid: dev.uid, tracking: 7, code: 0, length: SECRET.length, format: 'ASCII' },
  ], 'the request and its response, both hops');
  for (const l of lines()) t.match(l, { peer: /^127\.0\.0\.1:\d+$/, bytes: Number }, `${l.dir} ${l.tot}: peer and wire bytes`);
  t.ok(lines().some((l) => l.dir === 'out' && l.tot === 'token' && l.uid === dev.uid), 'the telemetry token is traced (by type only)');
  const text = d.logs.raw.join('\n');
  t.notOk(text.includes(SECRET) || text.includes(secretHex), 'no payload bytes in the log');
  t.notOk(text.includes(dev.key.toString('hex')) || text.includes(CENTRAL_KEY.toString('hex')), 'no key in the log');
  for (const l of lines()) t.same(Object.keys(l).filter((k) => /payload|data|token|mac|key/i.test(k)), [], `${l.dir} ${l.tot}: no payload, token, MAC or key field`);
});

t.test('at info: no line is written and none is built; a reload to debug turns them on for live connections', async (t) => {
  const calls = countBuilds(t);
  const config = testConfig(t);
  const d = await startDaemon(t, config, [dev], { logLevel: 'info' });
  await roundTrip(t, d.port, 1);
  t.equal(d.logs.find('transmission').length, 0, 'no transmission line');
  t.equal(calls.n, 0, 'no trace line built');

  const obj = (await RawClient.open(d.port, 'trace-1', dev.key)).client;
  t.teardown(() => obj.close());
  await obj.nextOf(ToT.TOKEN);
  await d.daemon.reload({ ...config, log: { level: 'debug' } });
  obj.send({ type: ToT.PING });
  await obj.nextOf(ToT.PONG);
  await until(() => d.logs.find('transmission').length >= 2, 'ping and pong traced after the reload');
  t.same(d.logs.find('transmission').map((l) => [l.dir, l.tot]), [['in', 'ping'], ['out', 'pong']], 'the connection opened at info is traced at debug');
});

t.test('describeTransmission: metadata only; an ACL is its entry count, a token its type, a Close its code', async (t) => {
  const key = Buffer.alloc(16, 0xab);
  const acl = describeTransmission({ type: ToT.ACL, entries: [{ group: 'Devices', uid: 'a', key }, { group: 'Devices', uid: 'b', key }] });
  t.same(acl, { tot: 'acl', bytes: 1 + 4 + 2 * 48, entries: 2 });
  t.same(describeTransmission({ type: ToT.TOKEN, token: Buffer.alloc(8, 0xcd) }), { tot: 'token', bytes: 9 });
  t.same(describeTransmission({ type: ToT.CLOSE, code: 0xa1 }), { tot: 'close', bytes: 2, code: 0xa1 });
  t.same(describeTransmission({ type: ToT.TELEMETRY, uid: 'd', payload: { format: Format.JSON, options: 0, data: Buffer.from('{"s":1}') } }),
    { tot: 'telemetry', bytes: 1 + 16 + 3 + 7, rteUid: 'd', format: 'JSON', length: 7 });
  t.same(describeTransmission({ type: ToT.PING }), { tot: 'ping', bytes: 1 });
});
