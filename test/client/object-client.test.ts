import dgram from 'node:dgram';
import { once } from 'node:events';
import t, { type Test } from 'tap';
import { ManualClock } from '../../src/clock.js';
import {
  ClientErrorCode, CloseCode, Format, ObjectClient, ResponseCode, ToT, ascii, json, utf8,
  type CloseEvent, type ObjectClientOptions, type RequestEvent,
} from '../../src/client/index.js';
import { encodeTransmission, type Transmission } from '../../src/protocol/index.js';
import { testCerts } from '../helpers/certs.js';
import { FakeConcentrator, type FakeConcentratorOptions } from '../helpers/fake-concentrator.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const TOKEN = Buffer.from('a1a2a3a4a5a6a7a8', 'hex');

async function setup(t: Test, opts: Partial<ObjectClientOptions> = {}, fakeOpts: FakeConcentratorOptions = {}) {
  const useTls = opts.tls !== undefined;
  const fake = await FakeConcentrator.start({ keys: { 'dev-1': KEY }, ...(useTls ? { tls: await testCerts() } : {}), ...fakeOpts });
  t.teardown(() => fake.close());
  const client = new ObjectClient({ host: '127.0.0.1', port: fake.port, uid: 'dev-1', key: KEY, ...opts });
  t.teardown(() => client.destroy());
  await client.connect();
  const conn = await fake.accepted();
  return { fake, client, conn };
}

const strip = (x: Transmission) => JSON.parse(JSON.stringify(x)) as unknown;

for (const mode of ['plain', 'TLS'] as const) {
  const tlsOpt = async () => (mode === 'TLS' ? { tls: { ca: (await testCerts()).cert } } : {});

  t.test(`${mode}: request/response round trip from the object`, async (t) => {
    const { client, conn } = await setup(t, await tlsOpt());
    const p = client.request(json({ hello: 1 }));
    const req = await conn.next();
    t.match(req, { type: ToT.REQUEST, uid: undefined, payload: { format: Format.JSON } });
    if (req.type !== ToT.REQUEST) throw new Error('unreachable');
    t.equal(req.payload.data.toString(), '{"hello":1}');
    conn.send({ type: ToT.RESPONSE, tracking: req.tracking, code: ResponseCode.VALID, payload: utf8('ok') });
    const res = await p;
    t.equal(res.code, ResponseCode.VALID);
    t.equal(res.payload.data.toString(), 'ok');
  });

  t.test(`${mode}: requests from the central go to the handler`, async (t) => {
    const seen: number[] = [];
    const { conn } = await setup(t, {
      ...(await tlsOpt()),
      handler: (req) => {
        seen.push(req.tracking);
        if (req.payload.data.toString() === 'boom') throw new Error('boom');
        return { code: 0x00, payload: ascii(req.payload.data.toString().toUpperCase()) };
      },
    });
    conn.send({ type: ToT.REQUEST, tracking: 0xbeef, payload: ascii('abc') });
    t.same(strip(await conn.next()), strip({ type: ToT.RESPONSE, tracking: 0xbeef, code: 0, payload: ascii('ABC') }));
    conn.send({ type: ToT.REQUEST, tracking: 7, payload: ascii('boom') });
    t.match(await conn.next(), { type: ToT.RESPONSE, tracking: 7, code: ResponseCode.NOT_VALID });
    t.same(seen, [0xbeef, 7]);
  });
}

t.test('without a handler, requests are emitted with respond()', async (t) => {
  const { client, conn } = await setup(t);
  const got = once(client, 'request') as Promise<[RequestEvent]>;
  conn.send({ type: ToT.REQUEST, tracking: 42, payload: utf8('q') });
  const [req] = await got;
  t.equal(req.tracking, 42);
  t.equal(req.respond(ResponseCode.VALID, utf8('a')), true);
  t.match(await conn.next(), { type: ToT.RESPONSE, tracking: 42, code: 0 });
});

t.test('a request times out with TIMEOUT; a late response is ignored', async (t) => {
  const clock = new ManualClock();
  const { client, conn } = await setup(t, { clock, requestTimeoutMs: 1000 });
  const p = client.request(utf8('x'));
  const p2 = client.request(utf8('y'), { timeoutMs: 5000 });
  const req = await conn.next();
  await conn.next();
  clock.advance(1000);
  await t.rejects(p, { code: ClientErrorCode.TIMEOUT, tracking: (req as { tracking: number }).tracking });
  conn.send({ type: ToT.RESPONSE, tracking: (req as { tracking: number }).tracking, code: 0, payload: utf8('late') });
  clock.advance(4000);
  await t.rejects(p2, { code: ClientErrorCode.TIMEOUT });
});

t.test('tracking numbers differ for requests in flight', async (t) => {
  const { client, conn } = await setup(t);
  const ps = [client.request(utf8('a')), client.request(utf8('b')), client.request(utf8('c'))];
  const nums = new Set<number>();
  for (let i = 0; i < 3; i++) {
    const r = await conn.next();
    if (r.type === ToT.REQUEST) nums.add(r.tracking);
  }
  t.equal(nums.size, 3);
  for (const n of [...nums].reverse()) conn.send({ type: ToT.RESPONSE, tracking: n, code: n & 0xff, payload: utf8(String(n)) });
  for (const r of await Promise.all(ps)) t.equal(r.payload.data.toString(), String(r.code));
});

t.test('Ping is answered with Pong', async (t) => {
  const { conn } = await setup(t);
  conn.send({ type: ToT.PING });
  t.same(await conn.next(), { type: ToT.PONG });
});

t.test('token event, then a UDP datagram with the exact bytes', async (t) => {
  const udp = dgram.createSocket('udp4');
  t.teardown(() => udp.close());
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  const fake = await FakeConcentrator.start({ keys: { 'dev-1': KEY } });
  t.teardown(() => fake.close());
  const client = new ObjectClient({ host: '127.0.0.1', port: fake.port, uid: 'dev-1', key: KEY, udp: { host: '127.0.0.1', port: udp.address().port } });
  t.teardown(() => client.destroy());
  await t.rejects(client.sendTelemetry(utf8('x')), { code: ClientErrorCode.NO_TOKEN });
  await client.connect();
  const conn = await fake.accepted();
  const tokenEvent = once(client, 'token');
  conn.send({ type: ToT.TOKEN, token: TOKEN });
  t.same((await tokenEvent)[0], TOKEN);
  t.same(client.token, TOKEN);
  const msg = once(udp, 'message') as Promise<[Buffer]>;
  await client.sendTelemetry(utf8('temp=21'));
  const expected = Buffer.concat([TOKEN, Buffer.from([0x20, 0x00, 0x07]), Buffer.from('temp=21')]);
  t.same((await msg)[0], expected);
  // Out-of-session telemetry: the token outlives the connection.
  await client.close(CloseCode.SLEEP);
  const msg2 = once(udp, 'message') as Promise<[Buffer]>;
  await client.sendTelemetry(utf8('temp=21'));
  t.same((await msg2)[0], expected);
});

t.test('a token sent right after the accept byte is not lost', async (t) => {
  const token = encodeTransmission({ type: ToT.TOKEN, token: TOKEN });
  const fake = await FakeConcentrator.start({ keys: { 'dev-1': KEY }, afterAccept: () => token });
  t.teardown(() => fake.close());
  const client = new ObjectClient({ host: '127.0.0.1', port: fake.port, uid: 'dev-1', key: KEY });
  t.teardown(() => client.destroy());
  const got = once(client, 'token');
  await client.connect();
  t.same((await got)[0], TOKEN);
});

t.test('close() sends the Close code, emits close, and is idempotent', async (t) => {
  const { client, conn } = await setup(t);
  const closed = once(client, 'close') as Promise<[CloseEvent]>;
  const a = client.close(CloseCode.SLEEP);
  const b = client.close();
  t.same(await conn.next(), { type: ToT.CLOSE, code: CloseCode.SLEEP });
  await Promise.all([a, b]);
  t.match((await closed)[0], { code: CloseCode.SLEEP, remote: false, willReconnect: false });
  await conn.closed;
  await t.rejects(client.request(utf8('x')), { code: ClientErrorCode.CLOSED });
  client.destroy();
});

t.test('close() defaults to maintenance', async (t) => {
  const { client, conn } = await setup(t);
  await client.close();
  t.same(await conn.next(), { type: ToT.CLOSE, code: CloseCode.MAINTENANCE });
});

t.test('destroy() drops without Close and rejects pending requests', async (t) => {
  const { client, conn } = await setup(t);
  const p = client.request(utf8('x'));
  await conn.next();
  client.destroy();
  client.destroy();
  await t.rejects(p, { code: ClientErrorCode.CLOSED });
  await conn.closed;
  t.equal(conn.received.length, 0, 'no Close was sent');
});

t.test('a server drop rejects pending requests and emits a remote close', async (t) => {
  const { client, conn } = await setup(t);
  const p = client.request(utf8('x'));
  await conn.next();
  const closed = once(client, 'close') as Promise<[CloseEvent]>;
  conn.drop();
  await t.rejects(p, { code: ClientErrorCode.CLOSED });
  t.match((await closed)[0], { code: undefined, remote: true, willReconnect: false });
  t.equal(client.connected, false);
});

t.test('a Close from the server is reported with its code', async (t) => {
  const { client, conn } = await setup(t);
  const closed = once(client, 'close') as Promise<[CloseEvent]>;
  conn.send({ type: ToT.CLOSE, code: CloseCode.INTERNAL_ERROR });
  t.match((await closed)[0], { code: CloseCode.INTERNAL_ERROR, remote: true });
});

t.test('a protocol error closes with 0x00 and emits PROTOCOL', async (t) => {
  const { client, conn } = await setup(t);
  const err = once(client, 'error');
  conn.send({ type: ToT.REQUEST, uid: 'x', tracking: 1, payload: utf8('') }); // RTE=1 to an object
  t.same(await conn.next(), { type: ToT.CLOSE, code: CloseCode.PROTOCOL_ERROR });
  t.match((await err)[0], { code: ClientErrorCode.PROTOCOL });
});

t.test('reconnects after the server drops the socket, and answers replayed requests', async (t) => {
  const clock = new ManualClock();
  const { fake, client, conn } = await setup(t, { clock, reconnect: { minMs: 100, maxMs: 1000 }, handler: () => ({ payload: utf8('pong') }) });
  const rec = once(client, 'reconnect') as Promise<[{ attempt: number; delayMs: number }]>;
  const closed = once(client, 'close') as Promise<[CloseEvent]>;
  conn.drop();
  t.match((await closed)[0], { remote: true, willReconnect: true });
  const [{ attempt, delayMs }] = await rec;
  t.equal(attempt, 1);
  t.ok(delayMs >= 50 && delayMs <= 100, `delay ${delayMs} within jittered bounds`);
  const connected = once(client, 'connected');
  clock.advance(delayMs);
  const conn2 = await fake.accepted();
  await connected;
  t.equal(client.connected, true);
  conn2.send({ type: ToT.REQUEST, tracking: 9, payload: utf8('replayed') });
  t.match(await conn2.next(), { type: ToT.RESPONSE, tracking: 9, code: 0 });
  await client.close();
  t.equal(clock.pending, 0, 'no timer left behind');
});

t.test('a failed reconnect attempt backs off again; close() during backoff stops it', async (t) => {
  const clock = new ManualClock();
  const { fake, client, conn } = await setup(t, { clock, reconnect: { minMs: 100, maxMs: 150 } });
  await fake.close();
  conn.drop();
  const [first] = (await once(client, 'reconnect')) as [{ delayMs: number }];
  const errors: unknown[] = [];
  client.on('error', (e) => errors.push(e));
  // Not events.once: it would reject on the 'error' this attempt emits.
  const second = new Promise<[{ attempt: number; delayMs: number }]>((resolve) => client.once('reconnect', (e) => resolve([e])));
  clock.advance(first.delayMs);
  const [s] = await second;
  t.equal(s.attempt, 2);
  t.ok(s.delayMs <= 150, 'capped by maxMs');
  t.match(errors, [{ code: ClientErrorCode.CONNECT }]);
  await client.close();
  t.equal(clock.pending, 0);
});
