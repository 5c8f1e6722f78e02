import t from 'tap';
import { CONSOLE_CSP } from '../../src/http/console.js';
import { device } from '../helpers/daemon.js';
import { call, startHttpDaemon } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';

const get = { method: 'GET' as const, contentType: null, auth: null };

t.test('/console is off by default: 404 on the shared listener', async (t) => {
  const d = await startHttpDaemon(t, []);
  t.equal((await d.post('/console', undefined, get)).status, 404);
});

t.test('admin.console without an admin listener: served on the HTTP listener, with a strict CSP', async (t) => {
  const d = await startHttpDaemon(t, [], { over: { adminConsole: true } });
  const page = await d.post('/console', undefined, get);
  t.equal(page.status, 200);
  t.match(page.headers['content-type'], /^text\/html; charset=utf-8/);
  t.match(page.text, /<title>IoTSocket console<\/title>/);
  const csp = String(page.headers['content-security-policy']);
  t.equal(csp, CONSOLE_CSP);
  t.match(csp, /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]+=*'; style-src 'sha256-[A-Za-z0-9+/]+=*'; connect-src 'self'/);
  t.notOk(csp.includes('unsafe'), 'no unsafe-inline / unsafe-eval');
  t.match(page.headers, { 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' });
  t.notOk(/on(click|load|error|submit)=/i.test(page.text), 'no inline handlers (the CSP would block them)');
  t.equal((await d.post('/console', undefined, { ...get, method: 'DELETE' })).status, 405);
});

t.test('with an admin listener the console is there, not on the public HTTP listener', async (t) => {
  const d = await startHttpDaemon(t, [], { over: { adminConsole: true, admin: { host: '127.0.0.1', port: 0 } } });
  const admin = d.daemon.addresses!.admin!;
  t.equal((await call(`http://127.0.0.1:${admin.port}`, '/console', undefined, get)).status, 200);
  t.equal((await d.post('/console', undefined, get)).status, 404, 'not on the public listener');
});

t.test('GET /sessions filters by UID (contains) and group; each session names its node', async (t) => {
  const devs = [device('pump-1'), device('pump-2'), device('valve-1', 'Stations')];
  const d = await startHttpDaemon(t, devs);
  const clients = await Promise.all(devs.map((dv) => RawClient.open(d.port, dv.uid, dv.key)));
  t.teardown(() => clients.forEach((c) => c.client.close()));
  const uids = async (q: string) => (await d.post(`/sessions${q}`, undefined, { ...get, auth: undefined })).json.sessions.map((s: any) => s.UID);
  t.same(await uids('?uid=pump'), ['pump-1', 'pump-2']);
  t.same(await uids('?group=Stations'), ['valve-1']);
  t.same(await uids('?uid=1&group=Devices'), ['pump-1']);
  t.same(await uids('?uid=pump&limit=1&cursor=pump-1'), ['pump-2'], 'pages of a filtered list');
  t.same(await uids('?group=Nope'), []);
  const one = (await d.post('/sessions/pump-1', undefined, { ...get, auth: undefined })).json;
  t.match(one, { UID: 'pump-1', Node: /\S/ });
});
