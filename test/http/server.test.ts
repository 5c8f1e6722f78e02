import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { httpServerSettings } from '../../src/http/index.js';
import { testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawHttp, call, startHttpDaemon } from '../helpers/http.js';

const dev = device('dev-1');
const body = { UID: 'nobody', Format: 'ASCII', Payload: 'x' };
const certs = generateSelfSigned();

t.test('keep-alive: many requests on one connection', async (t) => {
  const d = await startHttpDaemon(t, [dev]);
  let connections = 0;
  d.daemon.internals.http!.server.server!.on('connection', () => connections++);
  const pool = new Pool(d.base, { connections: 1 });
  t.teardown(() => pool.destroy());
  for (let i = 0; i < 10; i++) {
    const r = await call(d.base, '/request', body, { dispatcher: pool });
    t.equal(r.json.Code, 0xa0, `request ${i}`);
    t.equal(r.headers['connection'], 'keep-alive');
  }
  const bad = await call(d.base, '/nope', body, { dispatcher: pool });
  t.equal(bad.status, 404, 'an error answer with its body read keeps the connection too');
  t.equal((await call(d.base, '/request', body, { dispatcher: pool })).status, 200);
  t.equal(connections, 1, 'one TCP connection for all of them');
});

t.test('the http: limits reach Node (breaches are in errors.test.ts)', async (t) => {
  const defaults = { headersTimeoutSec: 10, requestTimeoutSec: 40, keepAliveTimeoutSec: 5, maxHeaderBytes: 16_384 };
  t.same(httpServerSettings(defaults), { headersTimeout: 10_000, requestTimeout: 40_000, keepAliveTimeout: 5_000, maxHeaderSize: 16_384, connectionsCheckingInterval: 1000 });
  t.equal(httpServerSettings({ ...defaults, headersTimeoutSec: 0.2 }).connectionsCheckingInterval, 20, 'timeouts swept at a tenth of the shorter one');
  const d = await startHttpDaemon(t, [dev], { over: { http: { maxWaitSec: 120, requestTimeoutSec: 130, headersTimeoutSec: 7, keepAliveTimeoutSec: 3, maxHeaderBytes: 8192 } } });
  const s = d.daemon.internals.http!.server.server!;
  t.same([s.headersTimeout, s.requestTimeout, s.keepAliveTimeout, (s as unknown as { maxHeaderSize: number }).maxHeaderSize], [7_000, 130_000, 3_000, 8_192], 'applied to the server');
});

t.test('HTTPS with a generated certificate', async (t) => {
  const { cert, key } = await certs;
  const config = testConfig(t);
  writeFileSync(join(config.baseDir, 'http.crt'), cert);
  writeFileSync(join(config.baseDir, 'http.key'), key);
  const tlsConfig = { ...config, http: { ...config.http, enabled: true, tls: { cert: join(config.baseDir, 'http.crt'), key: join(config.baseDir, 'http.key') } } };
  const d = await startHttpDaemon(t, [dev], { config: tlsConfig, scheme: 'https', connect: { ca: cert } });
  const r = await d.post('/request', body);
  t.same([r.status, r.json.Code], [200, 0xa0], 'a round trip over TLS');
  t.equal((await d.post('/request', body, { auth: null })).status, 401, 'Bearer still required');
  await t.rejects(call(`http://127.0.0.1:${d.httpPort}`, '/request', body), 'plain HTTP is not served on the HTTPS port');
});

t.test('the HTTP port in use fails start with ERR_IOTS_PORT_IN_USE; disabled means no listener', async (t) => {
  const a = await startHttpDaemon(t, [dev]);
  const clash = testConfig(t, { http: { enabled: true, port: a.httpPort } });
  await t.rejects(startDaemon(t, clash, [dev]), { code: 'ERR_IOTS_PORT_IN_USE' });
  const off = await startDaemon(t, testConfig(t), [dev]);
  t.equal(off.daemon.addresses!.http, undefined, 'http.enabled false: no HTTP address');
  t.equal(off.daemon.internals.http, undefined);
});

t.test('close() twice, and destroy(), are safe with the HTTP side', async (t) => {
  const d = await startHttpDaemon(t, [dev]);
  await Promise.all([d.daemon.close(), d.daemon.close()]);
  d.daemon.destroy();
  await t.rejects(call(d.base, '/request', body));
});
