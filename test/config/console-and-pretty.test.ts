import t from 'tap';
import { parseConfig } from '../../src/config/load.js';

const KEY = '00112233445566778899AABBCCDDEEFF';
const parse = (text: string) => parseConfig(`central: { authKey: ${KEY} }\n${text}`, { baseDir: '/base' });

t.test('admin.console: off by default; on with or without an admin listener', async (t) => {
  t.equal(parse('').config?.adminConsole, undefined, 'absent: off');
  const shared = parse('http: { enabled: true }\nadmin:\n  console: true\n').config;
  t.equal(shared?.adminConsole, true);
  t.equal(shared?.admin, undefined, 'no admin.port: no admin listener, the admin routes and console stay on the HTTP one');
  const own = parse('admin:\n  port: 9100\n  console: true\n').config;
  t.match(own, { adminConsole: true, admin: { host: '127.0.0.1', port: 9100 } });
  t.equal(parse('admin: { port: 9100 }\n').config?.adminConsole, undefined, 'a listener alone does not turn the console on');
});

t.test('admin.console errors name the key and its line', async (t) => {
  t.strictSame(parse('http: { enabled: false }\nadmin:\n  console: true\n').errors,
    [{ path: 'admin.console', line: 4, message: 'needs a listener for the admin routes: set admin.port, or http.enabled: true' }]);
  t.strictSame(parse('admin:\n  console: "yes"\n').errors, [{ path: 'admin.console', line: 3, message: 'must be of type boolean' }]);
  t.match(parse('admin:\n  tls: { cert: c.pem, key: k.pem }\n').errors, [{ path: 'admin.tls', line: 3, message: /needs admin\.port/ }]);
});

t.test('log.pretty: a boolean, absent by default (the terminal decides)', async (t) => {
  t.equal(parse('').config?.log.pretty, undefined);
  t.equal(parse('log: { pretty: true }\n').config?.log.pretty, true);
  t.equal(parse('log: { pretty: false }\n').config?.log.pretty, false);
  t.strictSame(parse('log:\n  pretty: sometimes\n').errors, [{ path: 'log.pretty', line: 3, message: 'must be of type boolean' }]);
});
