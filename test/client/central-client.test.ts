import { once } from 'node:events';
import t, { type Test } from 'tap';
import {
  CentralClient, ClientErrorCode, CloseCode, Format, ResponseCode, ToT, binary, json, utf8,
  type CentralClientOptions, type CloseEvent, type RequestEvent,
} from '../../src/client/index.js';
import type { Transmission } from '../../src/protocol/index.js';
import { testCerts } from '../helpers/certs.js';
import { FakeConcentrator } from '../helpers/fake-concentrator.js';

const CENTRAL_KEY = Buffer.from('ffeeddccbbaa99887766554433221100', 'hex');

async function setup(t: Test, opts: Partial<CentralClientOptions> = {}) {
  const useTls = opts.tls !== undefined;
  const fake = await FakeConcentrator.start({ keys: { '': CENTRAL_KEY }, ...(useTls ? { tls: await testCerts() } : {}) });
  t.teardown(() => fake.close());
  const client = new CentralClient({ host: '127.0.0.1', port: fake.port, key: CENTRAL_KEY.toString('hex'), ...opts });
  t.teardown(() => client.destroy());
  await client.connect();
  const conn = await fake.accepted();
  t.equal(conn.uid, '', 'authenticated with the empty UID');
  return { fake, client, conn };
}

const tracking = (x: Transmission): number => (x.type === ToT.REQUEST || x.type === ToT.RESPONSE ? x.tracking : -1);

for (const mode of ['plain', 'TLS'] as const) {
  t.test(`${mode}: request to an object carries RTE=1 and the target UID`, async (t) => {
    const { client, conn } = await setup(t, mode === 'TLS' ? { tls: { ca: (await testCerts()).cert } } : {});
    const p = client.request('dev-1', json([1, 2]));
    const req = await conn.next();
    t.match(req, { type: ToT.REQUEST, uid: 'dev-1', payload: { format: Format.JSON } });
    conn.send({ type: ToT.RESPONSE, uid: 'dev-1', tracking: tracking(req), code: ResponseCode.VALID, payload: utf8('done') });
    const res = await p;
    t.equal(res.code, 0);
    t.equal(res.payload.data.toString(), 'done');
  });
}

t.test('tracking numbers are per target UID; responses match on (uid, tracking)', async (t) => {
  const { client, conn } = await setup(t);
  const pa = client.request('a', utf8('to a'));
  const pb = client.request('b', utf8('to b'));
  const ra = await conn.next();
  const rb = await conn.next();
  // A response for the right number but the wrong UID must not settle anything.
  conn.send({ type: ToT.RESPONSE, uid: 'c', tracking: tracking(ra), code: 0, payload: utf8('stray') });
  conn.send({ type: ToT.RESPONSE, uid: 'b', tracking: tracking(rb), code: ResponseCode.NOT_FOUND, payload: binary() });
  conn.send({ type: ToT.RESPONSE, uid: 'a', tracking: tracking(ra), code: ResponseCode.TIMEOUT, payload: binary() });
  t.equal((await pa).code, ResponseCode.TIMEOUT);
  t.equal((await pb).code, ResponseCode.NOT_FOUND);
});

t.test('object requests go to the handler and the Response goes back to that UID', async (t) => {
  const { conn } = await setup(t, {
    handler: async (req) => ({ code: ResponseCode.VALID, payload: utf8(`${req.uid}:${req.payload.data.toString()}`) }),
  });
  conn.send({ type: ToT.REQUEST, uid: 'dev-9', tracking: 513, payload: utf8('hi') });
  const res = await conn.next();
  t.match(res, { type: ToT.RESPONSE, uid: 'dev-9', tracking: 513, code: 0 });
  if (res.type === ToT.RESPONSE) t.equal(res.payload.data.toString(), 'dev-9:hi');
});

t.test('without a handler, object requests are emitted with uid and respond()', async (t) => {
  const { client, conn } = await setup(t);
  const ev = once(client, 'request') as Promise<[RequestEvent]>;
  conn.send({ type: ToT.REQUEST, uid: 'dev-2', tracking: 3, payload: utf8('q') });
  const [req] = await ev;
  t.equal(req.uid, 'dev-2');
  req.respond(ResponseCode.NOT_VALID);
  t.match(await conn.next(), { type: ToT.RESPONSE, uid: 'dev-2', tracking: 3, code: ResponseCode.NOT_VALID, payload: { format: 0 } });
});

t.test('identified telemetry is emitted with the UID', async (t) => {
  const { client, conn } = await setup(t);
  const ev = once(client, 'telemetry') as Promise<[{ uid: string; payload: { data: Buffer } }]>;
  conn.send({ type: ToT.TELEMETRY, uid: 'sensor-4', payload: binary([1, 2, 3]) });
  const [tel] = await ev;
  t.equal(tel.uid, 'sensor-4');
  t.same([...tel.payload.data], [1, 2, 3]);
});

t.test('sendAcl sends the whole ACL', async (t) => {
  const { client, conn } = await setup(t);
  const key = '0102030405060708090a0b0c0d0e0f10';
  await client.sendAcl([{ group: 'meters', uid: 'dev-1', key }, { group: 'meters', uid: 'dev-2', key: Buffer.from(key, 'hex') }]);
  const acl = await conn.next();
  t.match(acl, { type: ToT.ACL, entries: [{ group: 'meters', uid: 'dev-1' }, { group: 'meters', uid: 'dev-2' }] });
  if (acl.type === ToT.ACL) t.equal(acl.entries[1]!.key.toString('hex'), key);
  await t.rejects(client.sendAcl([{ group: 'g', uid: 'u', key: 'nothex' }]), { code: ClientErrorCode.INVALID_ARG });
});

t.test('a token sent to the central is a protocol error', async (t) => {
  const { client, conn } = await setup(t);
  const closed = once(client, 'close') as Promise<[CloseEvent]>;
  conn.send({ type: ToT.TOKEN, token: Buffer.alloc(8) });
  t.same(await conn.next(), { type: ToT.CLOSE, code: CloseCode.PROTOCOL_ERROR });
  t.match((await closed)[0], { code: CloseCode.PROTOCOL_ERROR, remote: false, error: { code: ClientErrorCode.PROTOCOL } });
});

t.test('pending requests are rejected when the connection drops; bad target UID refused', async (t) => {
  const { client, conn } = await setup(t);
  await t.rejects(client.request('', utf8('x')), { code: ClientErrorCode.INVALID_ARG });
  const p = client.request('dev-1', utf8('x'));
  await conn.next();
  conn.drop();
  await t.rejects(p, { code: ClientErrorCode.CLOSED });
});

t.test('a bad central key is refused', async (t) => {
  const fake = await FakeConcentrator.start({ keys: { '': CENTRAL_KEY } });
  t.teardown(() => fake.close());
  const client = new CentralClient({ host: '127.0.0.1', port: fake.port, key: Buffer.alloc(16) });
  t.teardown(() => client.destroy());
  await t.rejects(client.connect(), { code: ClientErrorCode.AUTH_REFUSED });
});
