import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, ConfigError } from '../../src/errors.js';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';

const KEY = '00112233445566778899AABBCCDDEEFF';
const parse = (text: string, env?: Record<string, string>) => parseConfig(text, { baseDir: '/base', env });

t.test('a wrong type names the key path and its line', async (t) => {
  const res = parse(`central:\n  authKey: ${KEY}\ntcp:\n  host: 127.0.0.1\n  port: "50505"\n`);
  t.equal(res.config, undefined);
  t.strictSame(res.errors, [{ path: 'tcp.port', line: 5, message: 'must be of type integer' }]);
});

t.test('an unknown key is an error at its own line, at any depth', async (t) => {
  const res = parse(`central: { authKey: ${KEY} }\ntcp:\n  port: 1\n  prot: 2\nextra: true\n`);
  t.same(
    res.errors.map((e) => [e.path, e.line]),
    [
      ['tcp.prot', 4],
      ['extra', 5],
    ],
  );
  t.ok(res.errors.every((e) => e.message === 'unknown key'));
});

t.test('a bad hex key', async (t) => {
  const res = parse(`log: { level: info }\ncentral:\n  authKey: 0011XX33445566778899AABBCCDDEEFF\n`);
  t.strictSame(res.errors, [{ path: 'central.authKey', line: 3, message: 'must be exactly 32 hex digits' }]);
  const digits = parse(`central:\n  authKey: 00112233445566778899001122334455\n`);
  t.match(digits.errors, [{ path: 'central.authKey', line: 2, message: /quote/ }], 'unquoted all-digit key is a YAML number');
  const quoted = parse(`central:\n  authKey: "00112233445566778899001122334455"\n`);
  t.same(quoted.errors, []);
});

t.test('every error is reported, not only the first', async (t) => {
  const res = parse(`central:\n  authKey: ${KEY}\nhttp:\n  port: 70000\nudp:\n  enabled: yes please\n`);
  t.same(
    res.errors.map((e) => [e.path, e.line]),
    [
      ['http.port', 4],
      ['udp.enabled', 6],
    ],
    'in file order',
  );
});

t.test('authKey and authKeyFile: exactly one', async (t) => {
  t.match(parse('central: {}\n').errors, [{ path: 'central', line: 1, message: /required/ }]);
  t.match(parse(`keepSessionSec: 5\ncentral: { authKey: ${KEY}, authKeyFile: k }\n`).errors, [{ path: 'central', line: 2, message: /only one/ }]);
  t.match(parse('tcp: {}\n').errors, [{ path: 'central', message: 'is required' }]);
});

t.test('a YAML syntax error gives a line', async (t) => {
  const res = parse(`central: { authKey: ${KEY} }\ntcp:\n  port: [1, 2\nudp: {}\n`);
  t.equal(res.config, undefined);
  t.ok(res.errors.length >= 1);
  t.match(res.errors[0], { path: '', line: Number, message: /YAML/ });
  t.ok(res.errors[0]!.line! >= 3);
  t.match(parse('a: 1\na: 2\n').errors, [{ line: 2, message: /YAML/ }], 'duplicate keys are syntax errors');
  t.match(parse('- 1\n- 2\n').errors, [{ line: 1, message: /mapping/ }]);
});

t.test('environment overrides apply before validation', async (t) => {
  const text = `central: { authKey: ${KEY} }\nhttp: { port: 8081 }\ngroups: { Devices: { telemetry: true } }\n`;
  const res = parse(text, {
    IOTSOCKET_HTTP__PORT: '9000',
    IOTSOCKET_tcp__Host: '0.0.0.0',
    IOTSOCKET_UDP__ENABLED: 'false',
    IOTSOCKET_CENTRAL__AUTHKEY: '00112233445566778899001122334455',
    IOTSOCKET_GROUPS__DEVICES__TELEMETRYTOKENEXPMIN: '15',
    IOTSOCKET_KEEPSESSIONSEC: '0',
    IOTSOCKET_CENTRAL__WEBHOOKS__REQUEST: 'http://127.0.0.1:1/r',
    OTHER_HTTP__PORT: '1',
  });
  t.same(res.errors, []);
  const c = res.config!;
  t.equal(c.http.port, 9000);
  t.equal(c.tcp.host, '0.0.0.0');
  t.equal(c.udp.enabled, false);
  t.equal(c.central.authKey.toString('hex'), '00112233445566778899001122334455', 'an all-digit key stays a string');
  t.same(c.groups.Devices, { telemetry: true, telemetryTokenExpMin: 15 });
  t.equal(c.keepSessionSec, 0);
  t.equal(c.central.webhooks.request, 'http://127.0.0.1:1/r');
});

t.test('bad environment overrides are errors naming the variable', async (t) => {
  const res = parse(`central: { authKey: ${KEY} }\n`, {
    IOTSOCKET_HTTP__PORT: 'eighty',
    IOTSOCKET_HTTP__PROT: '1',
    IOTSOCKET_GROUPS__NOPE__TELEMETRY: 'true',
  });
  t.equal(res.config, undefined);
  t.match(res.errors, [
    { path: 'groups.nope.telemetry', message: /IOTSOCKET_GROUPS__NOPE__TELEMETRY/ },
    { path: 'http.prot', message: /IOTSOCKET_HTTP__PROT: unknown key/ },
    { path: 'http.port', message: /IOTSOCKET_HTTP__PORT/ },
  ]);
  t.equal(res.errors.find((e) => e.path === 'http.port')!.line, undefined, 'no file line for an env value');
});

t.test('relative paths resolve against baseDir, absolute ones stay', async (t) => {
  const dir = t.testdir({
    'k.hex': `${KEY}\n`,
    certs: { 'a.crt': 'c', 'a.key': 'k' },
    'ca.pem': 'x',
  });
  const text = [
    'central:',
    '  authKeyFile: k.hex',
    '  webhooks: { ca: ca.pem }',
    'tcp: { tls: { cert: certs/a.crt, key: certs/a.key } }',
    `http: { tls: { cert: ${join(dir, 'certs/a.crt')}, key: certs/../certs/a.key } }`,
    'acl: { file: data/acl.json }',
  ].join('\n');
  const res = parseConfig(text, { baseDir: dir });
  t.same(res.errors, []);
  const c = res.config!;
  t.equal(c.baseDir, dir);
  t.same(c.tcp.tls, { cert: join(dir, 'certs/a.crt'), key: join(dir, 'certs/a.key') });
  t.same(c.http.tls, { cert: join(dir, 'certs/a.crt'), key: join(dir, 'certs/a.key') });
  t.equal(c.acl.file, join(dir, 'data/acl.json'));
  t.equal(c.central.webhooks.ca, join(dir, 'ca.pem'));
  t.equal(c.central.authKey.toString('hex').toUpperCase(), KEY);
  t.notOk('authKeyFile' in c.central, 'the key file path is not part of Config');
});

t.test('files the config names must exist (with the line of the key)', async (t) => {
  const dir = t.testdir({ 'bad.key': 'not hex\n' });
  const res = parseConfig('central:\n  authKeyFile: missing.key\ntcp:\n  tls: { cert: c.crt, key: c.key }\n', { baseDir: dir });
  t.match(res.errors, [
    { path: 'central.authKeyFile', line: 2, message: /not found/ },
    { path: 'tcp.tls.cert', line: 4, message: /not found/ },
    { path: 'tcp.tls.key', line: 4, message: /not found/ },
  ]);
  t.match(parseConfig('central: { authKeyFile: bad.key }', { baseDir: dir }).errors, [{ path: 'central.authKeyFile', message: /32 hex/ }]);
});

t.test('loadConfigFile throws a coded ConfigError carrying every issue', async (t) => {
  const dir = t.testdir({ 'c.yaml': 'tcp: { port: x }\nhttp: { port: y }\n' });
  const err = await loadConfigFile(join(dir, 'c.yaml'), { baseDir: dir, env: {} }).catch((e: unknown) => e);
  t.ok(err instanceof ConfigError);
  t.equal((err as ConfigError).code, ErrorCode.CONFIG);
  t.same((err as ConfigError).issues.map((i) => i.path).sort(), ['central', 'http.port', 'tcp.port']);
  const missing = await loadConfigFile(join(dir, 'nope.yaml')).catch((e: unknown) => e);
  t.equal((missing as ConfigError).code, ErrorCode.CONFIG);
  writeFileSync(join(dir, 'ok.yaml'), `central: { authKey: ${KEY} }\n`);
  const c = await loadConfigFile(join(dir, 'ok.yaml'), { baseDir: dir, env: { IOTSOCKET_TCP__PORT: '0' } });
  t.equal(c.tcp.port, 0);
});

t.test('central.webhooks.secret: whsec_ + base64 of 24-64 bytes, decoded; anything else is refused at its line', async (t) => {
  const key = Buffer.alloc(32, 7);
  const ok = parse(`central:\n  authKey: ${KEY}\n  webhooks:\n    secret: whsec_${key.toString('base64')}\n`);
  t.same(ok.errors, []);
  t.ok(ok.config!.central.webhooks.secret!.equals(key), 'the base64 part decoded to bytes');
  t.ok(Object.isFrozen(ok.config!.central.webhooks), 'frozen with the rest');
  const cases: Array<[string, string, RegExp]> = [
    ['no prefix', key.toString('base64'), /must start with "whsec_"/],
    ['not base64', 'whsec_not*base64!', /standard base64/],
    ['base64url', `whsec_${Buffer.alloc(24, 0xfb).toString('base64url')}`, /standard base64/],
    ['too short', `whsec_${Buffer.alloc(16).toString('base64')}`, /24-64 bytes, not 16/],
    ['too long', `whsec_${Buffer.alloc(65).toString('base64')}`, /not 65/],
    ['empty after prefix', 'whsec_', /standard base64/],
  ];
  for (const [name, secret, message] of cases) {
    const res = parse(`central:\n  authKey: ${KEY}\n  webhooks:\n    secret: "${secret}"\n`);
    t.match(res.errors, [{ path: 'central.webhooks.secret', line: 4, message }], name);
    t.equal(res.config, undefined, `${name}: no config`);
    t.notMatch(JSON.stringify(res.errors), secret.slice(6) || 'x'.repeat(99), `${name}: the message does not echo the secret`);
  }
  const env = parse(`central: { authKey: ${KEY} }\n`, { IOTSOCKET_CENTRAL__WEBHOOKS__SECRET: `whsec_${key.toString('base64')}` });
  t.ok(env.config!.central.webhooks.secret!.equals(key), 'settable from the environment (kept as text)');
});

t.test('http.requestTimeoutSec: absent, max(30, maxWaitSec + 10); set, it must exceed maxWaitSec and cover headersTimeoutSec', async (t) => {
  const http = (yaml: string) => parse(`central: { authKey: ${KEY} }\nhttp:\n${yaml}`);
  t.equal(http('  maxWaitSec: 5\n').config!.http.requestTimeoutSec, 30, 'at least 30 s');
  t.equal(http('  maxWaitSec: 300\n').config!.http.requestTimeoutSec, 310, 'above the longest hold');
  t.equal(http('  maxWaitSec: 5\n  headersTimeoutSec: 60\n').config!.http.requestTimeoutSec, 60, 'never below the headers timeout');
  t.equal(http('  maxWaitSec: 30\n  requestTimeoutSec: 31\n').config!.http.requestTimeoutSec, 31, 'explicit, above maxWaitSec: kept as is');
  t.match(http('  maxWaitSec: 30\n  requestTimeoutSec: 30\n').errors, [{ path: 'http.requestTimeoutSec', line: 4, message: /greater than http\.maxWaitSec \(30\)/ }]);
  t.match(http('  maxWaitSec: 1\n  headersTimeoutSec: 10\n  requestTimeoutSec: 5\n').errors, [{ path: 'http.requestTimeoutSec', line: 5, message: /at least http\.headersTimeoutSec \(10\)/ }]);
  t.match(http('  maxJsonDepth: 1\n  maxHeaderBytes: 100\n').errors, [{ path: 'http.maxJsonDepth', line: 3 }, { path: 'http.maxHeaderBytes', line: 4 }], 'bounds of the other limits');
});

t.test('an environment key replaces the file key source of the other kind (authKey vs authKeyFile)', async (t) => {
  const dir = t.testdir({ 'k.hex': `${KEY}\n` });
  const fileWithKeyFile = 'central:\n  authKeyFile: data/central.key\n';
  const byEnv = parseConfig(fileWithKeyFile, { baseDir: dir, env: { IOTSOCKET_CENTRAL__AUTHKEY: '00112233445566778899001122334455' } });
  t.same(byEnv.errors, [], 'the README example works with the shipped config (authKeyFile in the file)');
  t.equal(byEnv.config?.central.authKey.toString('hex'), '00112233445566778899001122334455');
  const fileWithKey = `central:\n  authKey: ${KEY}\n`;
  const byEnvFile = parseConfig(fileWithKey, { baseDir: dir, env: { IOTSOCKET_CENTRAL__AUTHKEYFILE: 'k.hex' } });
  t.same(byEnvFile.errors, []);
  t.equal(byEnvFile.config?.central.authKey.toString('hex').toUpperCase(), KEY);
  const both = parseConfig(fileWithKey, { baseDir: dir, env: { IOTSOCKET_CENTRAL__AUTHKEY: KEY, IOTSOCKET_CENTRAL__AUTHKEYFILE: 'k.hex' } });
  t.match(both.errors, [{ path: 'central', message: /set only one of authKey and authKeyFile/ }], 'both from the environment: still an error');
  const bothInFile = parseConfig(`central:\n  authKey: ${KEY}\n  authKeyFile: k.hex\n`, { baseDir: dir });
  t.match(bothInFile.errors, [{ path: 'central', line: 1, message: /set only one/ }], 'both in the file: still an error');
});

t.test('a variable with a mis-cased prefix is an error naming it, not silently ignored', async (t) => {
  const res = parse(`central: { authKey: ${KEY} }\n`, { iotsocket_log__level: 'debug', IoTSocket_TCP__PORT: '1', IOTSOCKETX: '1' });
  t.equal(res.config, undefined);
  t.match(res.errors, [
    { message: /environment variable IoTSocket_TCP__PORT: the prefix must be IOTSOCKET_ in upper case/ },
    { message: /environment variable iotsocket_log__level: the prefix must be IOTSOCKET_ in upper case/ },
  ]);
  t.equal(res.errors.length, 2, 'a name that merely starts with the letters (IOTSOCKETX) is not ours');
});
