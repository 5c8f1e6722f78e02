import { once } from 'node:events';
import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { CentralClient, ClientErrorCode, CloseCode, ObjectClient, ToT, binary, utf8, type CloseEvent } from '../../src/client/index.js';
import { FakeConcentrator } from '../helpers/fake-concentrator.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

t.test('destroy() during the handshake aborts connect() at once', async (t) => {
  const fake = await FakeConcentrator.start({ silent: true });
  t.teardown(() => fake.close());
  const client = new ObjectClient({ host: '127.0.0.1', port: fake.port, uid: 'dev-1', key: KEY });
  const p = client.connect();
  client.destroy();
  await t.rejects(p, { code: ClientErrorCode.CLOSED });
  // A closed client may connect again (a device waking up after Close 0xA0); destroy() aborts that too.
  const again = client.connect();
  client.destroy();
  await t.rejects(again, { code: ClientErrorCode.CLOSED }, 'reconnect after close is allowed and abortable');
});

t.test('a failed first connect() can be retried', async (t) => {
  const fake = await FakeConcentrator.start({ keys: { 'dev-1': KEY } });
  t.teardown(() => fake.close());
  const bad = new ObjectClient({ host: '127.0.0.1', port: fake.port, uid: 'dev-2', key: KEY });
  t.teardown(() => bad.destroy());
  await t.rejects(bad.connect(), { code: ClientErrorCode.AUTH_REFUSED });
  await t.rejects(bad.connect(), { code: ClientErrorCode.AUTH_REFUSED }, 'second attempt runs the handshake again');
});

t.test('a remote Close maintenance triggers a reconnect; Close 0x00 does not', async (t) => {
  const clock = new ManualClock();
  const fake = await FakeConcentrator.start({ keys: { '': KEY } });
  t.teardown(() => fake.close());
  const client = new CentralClient({ host: '127.0.0.1', port: fake.port, key: KEY, clock, reconnect: true });
  t.teardown(() => client.destroy());
  await client.connect();
  const conn = await fake.accepted();
  const rec = once(client, 'reconnect') as Promise<[{ delayMs: number }]>;
  conn.send({ type: ToT.CLOSE, code: CloseCode.MAINTENANCE });
  clock.advance((await rec)[0].delayMs);
  const conn2 = await fake.accepted();
  const closed = once(client, 'close') as Promise<[CloseEvent]>;
  conn2.send({ type: ToT.CLOSE, code: CloseCode.PROTOCOL_ERROR });
  t.match((await closed)[0], { code: CloseCode.PROTOCOL_ERROR, remote: true, willReconnect: false });
  t.equal(clock.pending, 0, 'no reconnect scheduled');
});

t.test('oversized payloads are refused locally; a handler returning one answers 0x01', async (t) => {
  const fake = await FakeConcentrator.start({ keys: { 'dev-1': KEY } });
  t.teardown(() => fake.close());
  const big = { format: 0, data: Buffer.alloc(0x10000) };
  const client = new ObjectClient({ host: '127.0.0.1', port: fake.port, uid: 'dev-1', key: KEY, handler: () => ({ payload: { format: 0, data: Buffer.alloc(0x10000) } }) });
  t.teardown(() => client.destroy());
  t.throws(() => binary(Buffer.alloc(0x10000)), { code: ClientErrorCode.INVALID_ARG });
  await client.connect();
  const conn = await fake.accepted();
  await t.rejects(client.request(big), { code: ClientErrorCode.INVALID_ARG });
  conn.send({ type: ToT.REQUEST, tracking: 5, payload: utf8('x') });
  t.match(await conn.next(), { type: ToT.RESPONSE, tracking: 5, code: 0x01 });
});
