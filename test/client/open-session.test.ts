import t, { type Test } from 'tap';
import { ManualClock } from '../../src/clock.js';
import net from 'node:net';
import { once } from 'node:events';
import { ClientErrorCode, openSession, type OpenSessionOptions } from '../../src/client/index.js';
import { RuleType, ToT, encodeTransmission } from '../../src/protocol/index.js';
import { testCerts } from '../helpers/certs.js';
import { FakeConcentrator, type FakeConcentratorOptions } from '../helpers/fake-concentrator.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const keys = { 'dev-1': KEY };

async function fake(t: Test, opts: FakeConcentratorOptions = {}): Promise<FakeConcentrator> {
  const f = await FakeConcentrator.start({ keys, ...opts });
  t.teardown(() => f.close());
  return f;
}

async function open(t: Test, port: number, extra: Partial<OpenSessionOptions> = {}) {
  const s = await openSession({ host: '127.0.0.1', port, uid: 'dev-1', key: KEY, ...extra });
  t.teardown(() => s.socket.destroy());
  return s;
}

for (const useTls of [false, true]) {
  const mode = useTls ? 'TLS' : 'plain';
  const tlsOpts = async () => (useTls ? { tls: { ca: (await testCerts()).cert } } : {});
  const fakeTls = async () => (useTls ? { tls: await testCerts() } : {});

  t.test(`${mode}: accepted handshake sends the initiation and yields a usable socket`, async (t) => {
    const f = await fake(t, await fakeTls());
    const s = await open(t, f.port, { ...(await tlsOpts()), maxTransmissionLength: 4096 });
    t.same(f.initiations, [{ tls: useTls, version: 1, options: 0, maxTransmissionLength: 4096 }]);
    t.same(s.answer, { ok: true, flags: 0, rule: { type: RuleType.NONE } });
    t.equal(s.rest.length, 0);
    const conn = await f.accepted();
    t.equal(conn.uid, 'dev-1');
    s.socket.write(encodeTransmission({ type: ToT.PING }));
    s.socket.resume();
    t.same(await conn.next(), { type: ToT.PING });
  });

  t.test(`${mode}: a bad key is refused with AUTH_REFUSED`, async (t) => {
    const f = await fake(t, await fakeTls());
    await t.rejects(open(t, f.port, { ...(await tlsOpts()), key: 'ffffffffffffffffffffffffffffffff' }), { code: ClientErrorCode.AUTH_REFUSED });
  });

  t.test(`${mode}: handshake bytes split one at a time, with bytes after the accept byte`, async (t) => {
    const token = encodeTransmission({ type: ToT.TOKEN, token: Buffer.from('0102030405060708', 'hex') });
    const f = await fake(t, { ...(await fakeTls()), splitWrites: true, afterAccept: () => token });
    const s = await open(t, f.port, await tlsOpts());
    // The token follows the accept byte at once; what openSession did not read arrives next.
    let rest = s.rest;
    while (rest.length < token.length) rest = Buffer.concat([rest, await nextChunk(s.socket)]);
    t.same(rest, token);
  });
}

function nextChunk(socket: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve) => {
    socket.once('data', (c: Buffer) => resolve(c));
    socket.resume();
  });
}

t.test('OK=0 with no rule is refused with REFUSED; OK=0 with a redirect rule (a draining or loaded node, PROTOCOL §3) is followed', async (t) => {
  const plain = await fake(t, { answer: () => ({ ok: false, flags: 0, rule: { type: RuleType.NONE } }) });
  await t.rejects(open(t, plain.port), { code: ClientErrorCode.REFUSED, redirect: undefined });
  const target = await fake(t);
  const f = await fake(t, { answer: () => ({ ok: false, flags: 0, rule: { type: RuleType.REDIRECT, host: '127.0.0.1', port: target.port } }) });
  const s = await open(t, f.port);
  t.same([s.host, s.port], ['127.0.0.1', target.port], 'opened where the rule said');
  t.equal((await target.accepted()).uid, 'dev-1');
});

t.test('a redirect is followed to the target, answer bytes split one at a time', async (t) => {
  const target = await fake(t);
  const f = await fake(t, {
    splitWrites: true,
    answer: () => ({ ok: true, flags: 0, rule: { type: RuleType.REDIRECT, host: '127.0.0.1', port: target.port } }),
  });
  const s = await open(t, f.port);
  t.equal(s.port, target.port);
  t.equal((await target.accepted()).uid, 'dev-1');
  t.equal(f.initiations.length, 1);
});

t.test('followRedirect: false rejects with REDIRECTED and the target, whatever OK says', async (t) => {
  for (const ok of [true, false]) {
    const f = await fake(t, { answer: () => ({ ok, flags: 0, rule: { type: RuleType.REDIRECT, host: 'h', port: 1234 } }) });
    await t.rejects(open(t, f.port, { followRedirect: false }), { code: ClientErrorCode.REDIRECTED, redirect: { host: 'h', port: 1234 } }, `OK=${Number(ok)}`);
  }
});

t.test('a redirect is followed once: a second one (a loop) is TOO_MANY_REDIRECTS naming both hops, and nothing is opened', async (t) => {
  let port = 0;
  const loop = await fake(t, { answer: () => ({ ok: false, flags: 0, rule: { type: RuleType.REDIRECT, host: '127.0.0.1', port } }) });
  port = loop.port;
  const err = await open(t, loop.port).catch((e: unknown) => e);
  t.match(err, { code: ClientErrorCode.TOO_MANY_REDIRECTS, redirect: { host: '127.0.0.1', port: loop.port } });
  t.match((err as Error).message, new RegExp(`redirected again by 127\\.0\\.0\\.1:${loop.port} to 127\\.0\\.0\\.1:${loop.port}`));
  t.equal(loop.initiations.length, 2, 'the first node, then the node it named: no third attempt');
  const last = await fake(t, { answer: () => ({ ok: true, flags: 0, rule: { type: RuleType.REDIRECT, host: 'third.example', port: 9 } }) });
  const first = await fake(t, { answer: () => ({ ok: false, flags: 0, rule: { type: RuleType.REDIRECT, host: '127.0.0.1', port: last.port } }) });
  await t.rejects(open(t, first.port), { code: ClientErrorCode.TOO_MANY_REDIRECTS, redirect: { host: 'third.example', port: 9 } }, 'a chain A → B → C is refused at B too');
  t.same([first.initiations.length, last.initiations.length], [1, 1]);
});

t.test('a silent server hits the handshake deadline', async (t) => {
  const f = await fake(t, { silent: true });
  const clock = new ManualClock();
  const p = open(t, f.port, { clock, handshakeTimeoutMs: 500 });
  await f.initiationQueue.shift();
  clock.advance(500);
  await t.rejects(p, { code: ClientErrorCode.HANDSHAKE_TIMEOUT });
});

t.test('TLS asked of a server without TLS fails with a coded error', async (t) => {
  const f = await fake(t);
  const err = (await open(t, f.port, { tls: true }).catch((e: unknown) => e)) as { code: string };
  t.ok([ClientErrorCode.TLS, ClientErrorCode.CLOSED].includes(err.code as never), err.code);
});

t.test('an untrusted certificate fails with TLS', async (t) => {
  const f = await fake(t, { tls: await testCerts() });
  await t.rejects(open(t, f.port, { tls: true }), { code: ClientErrorCode.TLS });
});

t.test('connection refused and bad arguments are coded', async (t) => {
  const f = await fake(t);
  const port = f.port;
  await f.close();
  await t.rejects(open(t, port), { code: ClientErrorCode.CONNECT });
  await t.rejects(open(t, port, { key: 'abcd' }), { code: ClientErrorCode.INVALID_ARG });
  await t.rejects(open(t, port, { uid: 'x'.repeat(17) }), { code: ClientErrorCode.INVALID_ARG });
});

t.test('an unknown rule type is a protocol error', async (t) => {
  const server = net.createServer((s) => s.end(Buffer.from([0x85, 0x00])));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  await t.rejects(open(t, (server.address() as net.AddressInfo).port), { code: ClientErrorCode.PROTOCOL });
});
