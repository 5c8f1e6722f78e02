import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CentralClient, ObjectClient, CloseCode, ResponseCode, ascii, json, decodePayloadJson } from '../../src/client/index.js';
import { testCerts } from '../helpers/certs.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';

const dev = device('sdk-1');

async function withTls(t: Test) {
  const c = testConfig(t);
  const { cert, key } = await testCerts();
  writeFileSync(join(c.baseDir, 's.crt'), cert);
  writeFileSync(join(c.baseDir, 's.key'), key);
  return { config: { ...c, tcp: { ...c.tcp, tls: { cert: join(c.baseDir, 's.crt'), key: join(c.baseDir, 's.key') } } }, ca: cert };
}

for (const mode of ['plain', 'tls'] as const) {
  t.test(`SDK against the daemon (${mode}): requests both ways, token`, async (t) => {
    const { config, ca } = mode === 'tls' ? await withTls(t) : { config: testConfig(t), ca: undefined };
    const d = await startDaemon(t, config, [dev]);
    const tls = ca ? { ca, servername: 'localhost' } : undefined;
    const central = new CentralClient({ host: '127.0.0.1', port: d.port, key: CENTRAL_KEY, tls, handler: (req) => ({ code: 0, payload: ascii(`central saw ${req.uid}`) }) });
    const obj = new ObjectClient({ host: '127.0.0.1', port: d.port, uid: dev.uid, key: dev.key, tls, handler: (req) => ({ code: 0, payload: json({ echo: decodePayloadJson(req.payload) }) }) });
    t.teardown(() => { central.destroy(); obj.destroy(); });
    const token = new Promise((r) => obj.once('token', r));
    await central.connect();
    await obj.connect();
    t.ok(Buffer.isBuffer(await token), 'token received');
    const res = await central.request(dev.uid, json({ n: 1 }));
    t.equal(res.code, ResponseCode.VALID);
    t.same(decodePayloadJson(res.payload), { echo: { n: 1 } });
    const up = await obj.request(ascii('hi'));
    t.same([up.code, up.payload.data.toString()], [0, `central saw ${dev.uid}`]);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => central.request(dev.uid, json(i))));
    t.same(results.map((r) => decodePayloadJson(r.payload)), Array.from({ length: 50 }, (_, i) => ({ echo: i })), '50 concurrent requests, each answered once, right payload');
    t.equal(d.daemon.internals.tracker.size, 0);
  });
}

t.test('SDK reconnect resumes the kept session and gets the buffered request', async (t) => {
  const d = await startDaemon(t, testConfig(t), [dev]);
  const central = new CentralClient({ host: '127.0.0.1', port: d.port, key: CENTRAL_KEY });
  let served = 0;
  const obj = new ObjectClient({
    host: '127.0.0.1', port: d.port, uid: dev.uid, key: dev.key, reconnect: { minMs: 50, maxMs: 100 },
    handler: (req) => { served++; return { code: 0, payload: req.payload }; },
  });
  t.teardown(() => { central.destroy(); obj.destroy(); });
  await central.connect();
  await obj.connect();
  const reconnected = new Promise((r) => obj.once('connected', r));
  // Sleep: the object says so, the session is kept; a request sent meanwhile waits in the buffer.
  d.daemon.internals.sessions.get(dev.uid)!.link!.close(CloseCode.SLEEP);
  for (let i = 0; i < 100 && d.daemon.internals.sessions.get(dev.uid)?.state !== 'kept'; i++) await new Promise((r) => setTimeout(r, 5));
  t.equal(d.daemon.internals.sessions.get(dev.uid)?.state, 'kept');
  const pending = central.request(dev.uid, ascii('while away'));
  await reconnected;
  const res = await pending;
  t.same([res.code, res.payload.data.toString(), served], [0, 'while away', 1], 'buffered request delivered once on resume');
});

t.test('SDK close codes: 0xA0 keeps the session, 0x01 ends it', async (t) => {
  const d = await startDaemon(t, testConfig(t), [dev]);
  const obj = new ObjectClient({ host: '127.0.0.1', port: d.port, uid: dev.uid, key: dev.key });
  t.teardown(() => obj.destroy());
  await obj.connect();
  await obj.close(CloseCode.SLEEP);
  t.equal(d.daemon.internals.sessions.get(dev.uid)?.state, 'kept');
  await obj.connect();
  await obj.close(CloseCode.MAINTENANCE);
  t.equal(d.daemon.internals.sessions.get(dev.uid), undefined);
});
