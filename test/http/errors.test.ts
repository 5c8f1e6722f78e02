import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { HttpApi, HTTP_ERROR_STATUS } from '../../src/http/index.js';
import type { ResponseTarget } from '../../src/routing/request-tracker.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { RawHttp, call, head, startHttpDaemon } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/until.js';
import { Format, ToT } from '../../src/protocol/index.js';
import { ManualClock } from '../../src/clock.js';

const dev = device('dev-1');
const ok = { UID: 'nobody', Format: 'ASCII', Payload: 'x' };
const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);

t.test('400: each bad field of /request is named (PROTOCOL §8)', async (t) => {
  const { post } = await startHttpDaemon(t, [dev]);
  const cases: Array<[string, unknown, string, string]> = [
    ['not an object', [ok], 'ERR_IOTS_HTTP_BAD_FIELD', 'body: must be a JSON object'],
    ['UID missing', { Format: 'ASCII', Payload: 'x' }, 'ERR_IOTS_HTTP_BAD_FIELD', 'UID: is required'],
    ['UID not a string', { ...ok, UID: 7 }, 'ERR_IOTS_HTTP_BAD_FIELD', 'UID: must be a non-empty string of at most 16 UTF-8 bytes'],
    ['UID 18 UTF-8 bytes', { ...ok, UID: 'é'.repeat(9) }, 'ERR_IOTS_HTTP_BAD_FIELD', 'UID: must be a non-empty string of at most 16 UTF-8 bytes'],
    ['UID empty', { ...ok, UID: '' }, 'ERR_IOTS_HTTP_BAD_FIELD', 'UID: must be'],
    ['Timeout 0', { ...ok, Timeout: 0 }, 'ERR_IOTS_HTTP_BAD_FIELD', 'Timeout: must be a number of seconds greater than 0'],
    ['Timeout negative', { ...ok, Timeout: -1 }, 'ERR_IOTS_HTTP_BAD_FIELD', 'Timeout: must be'],
    ['Timeout a string', { ...ok, Timeout: '5' }, 'ERR_IOTS_HTTP_BAD_FIELD', 'Timeout: must be'],
    ['Format missing', { UID: 'a', Payload: 'x' }, 'ERR_IOTS_HTTP_BAD_FIELD', 'Format: is required'],
    ['Format unknown', { ...ok, Format: 'XML' }, 'ERR_IOTS_HTTP_BAD_FIELD', 'Format: must be one of "JSON", "ASCII", "UTF8", "BINARY"'],
    ['Payload missing', { UID: 'a', Format: 'JSON' }, 'ERR_IOTS_HTTP_BAD_FIELD', 'Payload: is required'],
    ['unknown field', { ...ok, timeout: 5 }, 'ERR_IOTS_HTTP_BAD_FIELD', 'timeout: is not a known field'],
    ['ASCII Payload not ASCII', { ...ok, Payload: 'é' }, 'ERR_IOTS_BAD_PAYLOAD', 'Payload: must be a string of 7-bit ASCII'],
    ['UTF8 Payload not a string', { ...ok, Format: 'UTF8', Payload: 1 }, 'ERR_IOTS_BAD_PAYLOAD', 'Payload: must be a string'],
    ['BINARY byte out of range', { ...ok, Format: 'BINARY', Payload: [1, 300] }, 'ERR_IOTS_BAD_PAYLOAD', 'Payload[1]: must be an integer 0-255'],
    ['Payload over 65 535 bytes', { ...ok, Payload: 'a'.repeat(65_536) }, 'ERR_IOTS_PAYLOAD_TOO_LARGE', 'Payload: encodes to 65536 bytes'],
    ['nested deeper than 32', { ...ok, Format: 'JSON', Payload: nest(32) }, 'ERR_IOTS_HTTP_BAD_JSON', 'body: JSON nested deeper than 32 levels'],
  ];
  for (const [name, body, code, message] of cases) {
    const r = await post('/request', body);
    t.equal(r.status, 400, name);
    t.equal(r.json.error, code, `${name}: ${code}`);
    t.ok(r.json.message.startsWith(message), `${name}: "${r.json.message}"`);
  }
  const deepest = await post('/request', { ...ok, Format: 'JSON', Payload: nest(31) });
  t.same([deepest.status, deepest.json.Code], [200, 0xa0], '32 levels in all are accepted');
});

t.test('400: invalid JSON, invalid UTF-8 and prototype poisoning', async (t) => {
  const { post } = await startHttpDaemon(t, [dev]);
  const cases: Array<[string, string | Buffer]> = [
    ['truncated', '{"UID":'],
    ['empty body', ''],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])],
    ['__proto__ key', '{"UID":"a","Format":"JSON","Payload":{"__proto__":{"admin":true}}}'],
    ['escaped __proto__ key', '{"UID":"a","Format":"JSON","Payload":{"\\u005f_proto__":{"x":1}}}'],
    ['constructor.prototype', '{"UID":"a","Format":"JSON","Payload":[{"constructor":{"prototype":{"x":1}}}]}'],
  ];
  for (const [name, raw] of cases) {
    const r = await post('/request', undefined, { raw });
    t.same([r.status, r.json.error], [400, 'ERR_IOTS_HTTP_BAD_JSON'], name);
  }
  t.equal(({} as any).admin, undefined, 'Object.prototype untouched');
  const harmless = await post('/request', { UID: 'a', Format: 'JSON', Payload: { constructor: 'Bob' } });
  t.equal(harmless.status, 200, 'a plain "constructor" member is allowed');
});

t.test('400: each bad field of /acl is named', async (t) => {
  const { post } = await startHttpDaemon(t, [dev]);
  const good = { GroupName: 'Devices', UID: 'a', AuthKey: '00'.repeat(16) };
  const cases: Array<[string, unknown, string]> = [
    ['not an array', good, 'body: must be a JSON array'],
    ['entry not an object', [good, 'x'], '[1]: must be a JSON object'],
    ['AuthKey missing', [{ GroupName: 'Devices', UID: 'a' }], '[0].AuthKey: is required'],
    ['AuthKey not hex', [{ ...good, AuthKey: 'zz'.repeat(16) }], '[0].AuthKey: must be 32 hex digits'],
    ['AuthKey short', [good, { ...good, UID: 'b', AuthKey: 'ab' }], '[1].AuthKey: must be 32 hex digits'],
    ['UID too long', [{ ...good, UID: 'x'.repeat(17) }], '[0].UID: must be a non-empty string of at most 16 UTF-8 bytes'],
    ['GroupName missing', [{ UID: 'a', AuthKey: good.AuthKey }], '[0].GroupName: is required'],
    ['unknown member', [{ ...good, Group: 'x' }], '[0].Group: is not a known field'],
  ];
  for (const [name, body, message] of cases) {
    const r = await post('/acl', body);
    t.same([r.status, r.json.error, r.json.message], [400, 'ERR_IOTS_HTTP_BAD_FIELD', message], name);
  }
});

t.test('401: missing or wrong Bearer; the hex is case-insensitive', async (t) => {
  const { post } = await startHttpDaemon(t, [dev]);
  const hex = CENTRAL_KEY.toString('hex');
  const wrong = Buffer.from(CENTRAL_KEY);
  wrong[15]! ^= 1;
  for (const [name, auth] of [['missing', null], ['wrong key', `Bearer ${wrong.toString('hex')}`], ['Basic', `Basic ${hex}`],
    ['short', `Bearer ${hex.slice(2)}`], ['long', `Bearer ${hex}00`], ['not hex', `Bearer ${'g'.repeat(32)}`]] as const) {
    const r = await post('/request', ok, { auth });
    t.same([r.status, r.json.error], [401, 'ERR_IOTS_HTTP_UNAUTHORIZED'], name);
    t.match(r.headers['www-authenticate'], /^Bearer/, `${name}: WWW-Authenticate`);
  }
  for (const auth of [`Bearer ${hex.toUpperCase()}`, `bearer ${hex}`]) t.equal((await post('/request', ok, { auth })).status, 200, auth.slice(0, 7));
});

t.test('404 unknown URI (a query string included), 405 wrong method, 415 not JSON', async (t) => {
  const { post } = await startHttpDaemon(t, [dev]);
  for (const path of ['/', '/nope', '/request?x=1', '/request/', '/ACL', '/acl?a=b']) {
    const r = await post(path, ok);
    t.same([r.status, r.json.error], [404, 'ERR_IOTS_HTTP_NOT_FOUND'], path);
  }
  t.equal((await post('/nope', ok, { auth: null, method: 'GET' })).status, 404, 'path is checked before auth and method');
  for (const [method, path] of [['GET', '/request'], ['PUT', '/acl'], ['DELETE', '/request']] as const) {
    const r = await post(path, undefined, { method });
    t.same([r.status, r.json.error, r.headers['allow']], [405, 'ERR_IOTS_HTTP_METHOD_NOT_ALLOWED', 'POST'], `${method} ${path}`);
  }
  for (const ct of ['text/plain', '', 'application/json; charset=iso-8859-1', 'application/jsonx']) {
    const r = await post('/request', ok, { contentType: ct });
    t.same([r.status, r.json.error], [415, 'ERR_IOTS_HTTP_MEDIA_TYPE'], JSON.stringify(ct));
  }
  t.equal((await post('/request', ok, { contentType: 'Application/JSON; Charset=UTF-8' })).status, 200, 'type and charset are case-insensitive');
});

t.test('no Content-Type at all: the body is read as JSON (centrals written for the first concentrator send none)', async (t) => {
  const { post } = await startHttpDaemon(t, [dev]);
  const r = await post('/request', ok, { contentType: null });
  t.same([r.status, r.json.Code], [200, 0xa0], '/request without Content-Type is routed');
  const acl = await post('/acl', [{ GroupName: 'Devices', UID: 'dev-1', AuthKey: dev.key.toString('hex') }], { contentType: null });
  t.equal(acl.status, 200, '/acl without Content-Type is applied');
  const bad = await post('/request', undefined, { contentType: null, raw: 'UID=x' });
  t.same([bad.status, bad.json.error], [400, 'ERR_IOTS_HTTP_BAD_JSON'], 'a body that is not JSON is still refused, as JSON');
});

t.test('413: a body over http.maxBodyBytes is refused without being buffered', async (t) => {
  const max = 1024;
  const { post, httpPort } = await startHttpDaemon(t, [dev], { over: { http: { maxBodyBytes: max } } });
  const fits = JSON.stringify({ ...ok, Payload: 'a'.repeat(max - JSON.stringify(ok).length + 1) });
  t.equal(fits.length, max);
  t.equal((await post('/request', undefined, { raw: fits })).status, 200, 'exactly the limit is accepted');
  const r = await post('/request', undefined, { raw: fits + ' ' });
  t.same([r.status, r.json.error], [413, 'ERR_IOTS_HTTP_BODY_TOO_LARGE'], 'one byte more');

  const declared = await RawHttp.connect(httpPort);
  t.teardown(() => declared.close());
  declared.write(head('/request', { 'content-length': 10_000_000 }));
  const text = await declared.untilClosed();
  t.match(text, /^HTTP\/1\.1 413 /, 'a declared Content-Length over the limit: answered before any body byte');
  t.match(text, /connection: close/i);

  const chunked = await RawHttp.connect(httpPort);
  t.teardown(() => chunked.close());
  chunked.write(head('/request', { 'transfer-encoding': 'chunked' }));
  chunked.write(`${(max + 1).toString(16)}\r\n${'a'.repeat(max + 1)}\r\n`);
  t.match(await chunked.untilClosed(), /^HTTP\/1\.1 413 /, 'a chunked body: reading stops at the limit, the connection closes');
});

t.test('503 while shutting down; held requests are settled; the listener closes', async (t) => {
  const d = await startHttpDaemon(t, [dev]);
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => obj.close());
  const held = d.post('/request', { UID: dev.uid, Format: 'ASCII', Payload: 'h' });
  await obj.nextOf(ToT.REQUEST);

  const late = await RawHttp.connect(d.httpPort);
  t.teardown(() => late.close());
  const body = JSON.stringify(ok);
  late.write(head('/request', { 'content-length': body.length, expect: '100-continue' }));
  await late.waitFor('100 Continue'); // the server is now handling this request
  const closed = d.daemon.close();
  late.write(body);
  const text = await late.untilClosed();
  t.match(text, /HTTP\/1\.1 503 /, 'a request in progress when close starts: 503');
  t.match(text, /"error":"ERR_IOTS_HTTP_SHUTTING_DOWN"/);
  const h = await held;
  t.same([h.status, h.json], [200, { Code: 0xa0, Payload: null, Format: 'JSON', Reason: 'shutdown' }], 'the held request is settled (tracker failAll)');
  await closed;
  await t.rejects(call(d.base, '/request', ok), 'the listener is closed');
});

t.test('503 beyond the cap on held requests', async (t) => {
  const origins: ResponseTarget[] = [];
  const router = { centralRequest: (_u: string, _t: number, _p: unknown, origin: ResponseTarget) => { origins.push(origin); return 1; } };
  const api = new HttpApi({ authKey: CENTRAL_KEY, maxBodyBytes: 4096, defaultTimeoutSec: 10, maxWaitSec: 30, maxJsonDepth: 32, maxHeldRequests: 2 },
    { router, acl: { replace: async () => undefined }, log: pino({ level: 'silent' }) });
  const server = createServer(api.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const first = [call(base, '/request', ok), call(base, '/request', ok)];
  while (origins.length < 2) await new Promise((r) => setImmediate(r));
  const over = await call(base, '/request', ok);
  t.same([over.status, over.json.error, over.headers['retry-after']], [503, 'ERR_IOTS_HTTP_OVERLOADED', '1'], 'third held request refused');
  origins[0]!.deliverResponse('nobody', 1, 0, { format: 0, options: 0, data: Buffer.from([1]) });
  origins[0]!.deliverResponse('nobody', 1, 0, { format: 0, options: 0, data: Buffer.from([2]) });
  t.same((await first[0]!).json, { Code: 0, Payload: [1], Format: 'BINARY' }, 'a second delivery to the same origin is ignored');
  const again = call(base, '/request', ok);
  while (origins.length < 3) await new Promise((r) => setImmediate(r));
  t.equal(api.held, 2, 'room again after one settled');
  origins[1]!.deliverResponse('nobody', 1, 0xa1, { format: 0, options: 0, data: Buffer.alloc(0) });
  origins[2]!.deliverResponse('nobody', 1, 0xa1, { format: 0, options: 0, data: Buffer.alloc(0) });
  await Promise.all([first[1], again]);
  t.equal(api.held, 0);
});

t.test('every error code has one status', async (t) => {
  for (const [code, status] of Object.entries(HTTP_ERROR_STATUS)) t.ok(code.startsWith('ERR_IOTS_') && status >= 400 && status < 600, code);
});

t.test('http: timeouts from the config: 408 with a JSON body; a held /request outlives requestTimeoutSec; idle keep-alive closed', async (t) => {
  const clock = new ManualClock(); // the held request's own deadline never comes: only Node's timers run
  const http = { headersTimeoutSec: 0.2, requestTimeoutSec: 0.4, maxWaitSec: 0.3, keepAliveTimeoutSec: 0.2 };
  const d = await startHttpDaemon(t, [dev], { over: { http }, clock });
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => obj.close());
  const body = JSON.stringify({ UID: dev.uid, Format: 'ASCII', Payload: 'h' });
  const held = await RawHttp.connect(d.httpPort);
  t.teardown(() => held.close());
  held.write(head('/request', { 'content-length': body.length }) + body);
  const req = await obj.nextOf(ToT.REQUEST);

  const noHeaders = await RawHttp.connect(d.httpPort);
  t.teardown(() => noHeaders.close());
  noHeaders.write('POST /request HTTP/1.1\r\nhost: 127.0.0.1\r\n');
  const slowBody = await RawHttp.connect(d.httpPort);
  t.teardown(() => slowBody.close());
  slowBody.write(head('/request', { 'content-length': body.length }) + body.slice(0, 5));
  for (const [name, c] of [['headers not complete within http.headersTimeoutSec', noHeaders], ['body not complete within http.requestTimeoutSec', slowBody]] as const) {
    const text = await c.untilClosed();
    t.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/, `${name}: 408`);
    t.match(text, /connection: close/i);
    t.same(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).error, 'ERR_IOTS_HTTP_REQUEST_TIMEOUT', `${name}: JSON body`);
  }
  t.equal(held.text, '', 'the held request is still open after both timeouts fired');
  obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: 0, payload: { format: Format.ASCII, options: 0, data: Buffer.from('late but fine') } });
  await held.waitFor('late but fine');
  t.match(held.text, /^HTTP\/1\.1 200 /, 'and completes with the object\'s answer');
  // Idle for http.keepAliveTimeoutSec (0.2 s, Node's timer) after its answer: closed by the server.
  await until(() => held.socket.closed, 'the server to close the idle keep-alive connection', 3000);
  t.equal(held.text.match(/^HTTP\/1\.1 /gm)?.length, 1, 'one answer on it, then the close');
});

t.test('http: size, depth and held-request limits from the config: 431 / 400 / 503 with JSON bodies; the admin listener shares them', async (t) => {
  const http = { maxHeaderBytes: 1024, maxJsonDepth: 4, maxHeldRequests: 1 };
  const d = await startHttpDaemon(t, [dev], { over: { http, admin: { host: '127.0.0.1', port: 0 } }, clock: new ManualClock() });
  const bodyOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
  for (const [where, port, line] of [['API', d.httpPort, 'POST /request'], ['admin', d.daemon.addresses!.admin!.port, 'GET /healthz']] as const) {
    const big = await RawHttp.connect(port);
    t.teardown(() => big.close());
    big.write(`${line} HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(1100)}\r\n\r\n`);
    const text = await big.untilClosed();
    t.match(text, /^HTTP\/1\.1 431 /, `${where}: headers over http.maxHeaderBytes: 431`);
    t.match(bodyOf(text), { error: 'ERR_IOTS_HTTP_HEADERS_TOO_LARGE', message: /1024 bytes \(http\.maxHeaderBytes\)/ });
    const garbage = await RawHttp.connect(port);
    t.teardown(() => garbage.close());
    garbage.write('NOT HTTP AT ALL\r\n\r\n');
    const bad = await garbage.untilClosed();
    t.match(bad, /^HTTP\/1\.1 400 /, `${where}: a malformed request: 400`);
    t.equal(bodyOf(bad).error, 'ERR_IOTS_HTTP_MALFORMED');
  }
  const deep = await d.post('/request', { ...ok, Format: 'JSON', Payload: nest(4) });
  t.same([deep.status, deep.json.error, deep.json.message], [400, 'ERR_IOTS_HTTP_BAD_JSON', 'body: JSON nested deeper than 4 levels'], 'http.maxJsonDepth');
  t.equal((await d.post('/request', { ...ok, Format: 'JSON', Payload: nest(3) })).status, 200, 'exactly the depth is accepted');

  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => obj.close());
  const first = d.post('/request', { UID: dev.uid, Format: 'ASCII', Payload: 'h' });
  const req = await obj.nextOf(ToT.REQUEST);
  const over = await d.post('/request', { UID: dev.uid, Format: 'ASCII', Payload: 'h' });
  t.same([over.status, over.json.error, over.headers['retry-after']], [503, 'ERR_IOTS_HTTP_OVERLOADED', '1'], 'http.maxHeldRequests: the second held request is refused');
  obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: 0, payload: { format: Format.ASCII, options: 0, data: Buffer.from('a') } });
  t.equal((await first).json.Code, 0);
});
