import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { planFirstStart, prepareFirstStart } from '../../src/config/bootstrap.js';
import { finishConfig, parseConfig, readConfigDraft } from '../../src/config/load.js';
import { ErrorCode } from '../../src/errors.js';

const TEXT = [
  'central: { authKeyFile: data/central.key }',
  'tcp: { tls: { cert: certs/server.crt, key: certs/server.key, generateDevCert: true } }',
  'http: { tls: { cert: certs/server.crt, key: certs/server.key, generateDevCert: true } }',
].join('\n');

function recorder() {
  const lines: Array<{ level: 'info' | 'warn'; obj: object; msg: string }> = [];
  return {
    lines,
    info: (obj: object, msg: string) => void lines.push({ level: 'info', obj, msg }),
    warn: (obj: object, msg: string) => void lines.push({ level: 'warn', obj, msg }),
  };
}

function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile()).sort();
}

t.test('check mode writes nothing and reports the pending files as warnings', async (t) => {
  const dir = t.testdir({});
  const res = parseConfig(TEXT, { baseDir: dir, mode: 'check' });
  t.same(res.errors, []);
  t.equal(res.config, undefined, 'no Config without the key');
  t.equal(res.warnings.length, 2);
  t.match(res.warnings[0], /central\.authKeyFile: .*central\.key does not exist yet/);
  t.match(res.warnings[1], /tcp\.tls: .*server\.crt .*development certificate/);
  t.same(listTree(dir), [], 'nothing was written');
  const load = parseConfig(TEXT, { baseDir: dir });
  t.same(load.errors.map((e) => e.path), ['central.authKeyFile', 'tcp.tls.cert', 'tcp.tls.key', 'http.tls.cert', 'http.tls.key']);
});

t.test('first start generates the key and one dev cert, exactly once', async (t) => {
  const dir = t.testdir({});
  const { draft } = readConfigDraft(TEXT, { baseDir: dir });
  t.ok(draft);
  const log = recorder();
  const steps = await prepareFirstStart(draft!.raw, log);
  t.same(steps.map((s) => s.kind), ['auth-key', 'dev-cert'], 'tcp and http share one certificate');

  const keyFile = join(dir, 'data/central.key');
  t.match(readFileSync(keyFile, 'utf8'), /^[0-9A-F]{32}\n$/);
  t.equal(statSync(keyFile).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, 'certs/server.key')).mode & 0o777, 0o600);
  const cert = new X509Certificate(readFileSync(join(dir, 'certs/server.crt')));
  t.match(cert.subject, /CN=localhost/);
  t.match(log.lines, [
    { level: 'info', msg: new RegExp(`generated a new central auth key in ${keyFile.replace(/[.]/g, '\\.')}`) },
    { level: 'warn', msg: /DEVELOPMENT certificate/ },
  ]);
  t.notMatch(JSON.stringify(log.lines), readFileSync(keyFile, 'utf8').trim(), 'the key itself is never logged');

  const before = listTree(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs, readFileSync(join(dir, f), 'utf8').length]);
  const again = await prepareFirstStart(draft!.raw, recorder());
  t.same(again, [], 'second start: nothing to do');
  t.same(listTree(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs, readFileSync(join(dir, f), 'utf8').length]), before);

  const done = finishConfig(draft!);
  t.same(done.errors, []);
  t.equal(done.config!.central.authKey.toString('hex').toUpperCase(), readFileSync(keyFile, 'utf8').trim());
  t.same(parseConfig(TEXT, { baseDir: dir, mode: 'check' }).warnings, [], 'check-config is now quiet');
});

t.test('a half-present certificate pair is never overwritten', async (t) => {
  const dir = t.testdir({ certs: { 'server.crt': 'operator cert' } });
  const { draft } = readConfigDraft(TEXT, { baseDir: dir });
  t.same(planFirstStart(draft!.raw).map((s) => s.kind), ['auth-key']);
  await prepareFirstStart(draft!.raw, recorder());
  t.equal(readFileSync(join(dir, 'certs/server.crt'), 'utf8'), 'operator cert');
  t.notOk(existsSync(join(dir, 'certs/server.key')));
  t.match(finishConfig(draft!).errors, [{ path: 'tcp.tls.key', message: /not found/ }]);
});

t.test('without generateDevCert or authKeyFile nothing is planned', async (t) => {
  const dir = t.testdir({});
  const { draft } = readConfigDraft('central: { authKey: 00112233445566778899AABBCCDDEEFF }\ntcp: { tls: { cert: a, key: b } }', { baseDir: dir });
  t.same(planFirstStart(draft!.raw), []);
  t.match(parseConfig('central: { authKey: 00112233445566778899AABBCCDDEEFF }\ntcp: { tls: { cert: a, key: b } }', { baseDir: dir, mode: 'check' }).errors, [
    { path: 'tcp.tls.cert' },
    { path: 'tcp.tls.key' },
  ]);
});

t.test('a write failure is a coded error', async (t) => {
  const dir = t.testdir({ data: 'a file where a directory should be' });
  const { draft } = readConfigDraft(TEXT, { baseDir: dir });
  await t.rejects(prepareFirstStart(draft!.raw, recorder()), { code: ErrorCode.BOOTSTRAP });
});
