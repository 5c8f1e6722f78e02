import t from 'tap';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ensureBuilt, ROOT, runCli, spawnCli } from '../helpers/cli.js';

const KEY = '00112233445566778899AABBCCDDEEFF';
const PORT0 = `central: { authKey: ${KEY} }\ntcp: { port: 0 }\nudp: { port: 0 }\nhttp: { port: 0 }\nlog: { level: info }\n`;

t.before(() => ensureBuilt());

t.test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await runCli(['--version'], { cwd: t.testdir({}) });
  t.equal(r.code, 0);
  t.equal(r.stdout.trim(), pkg.version);
});

t.test('--help lists the subcommands', async (t) => {
  const r = await runCli(['--help'], { cwd: t.testdir({}) });
  t.equal(r.code, 0);
  for (const cmd of ['start', 'check-config', 'keygen']) t.match(r.stdout, cmd);
});

t.test('keygen prints 32 uppercase hex digits, fresh each time', async (t) => {
  const dir = t.testdir({});
  const [a, b] = await Promise.all([runCli(['keygen'], { cwd: dir }), runCli(['keygen'], { cwd: dir })]);
  t.equal(a.code, 0);
  t.match(a.stdout, /^[0-9A-F]{32}\n$/);
  t.not(a.stdout, b.stdout);
});

t.test('check-config: OK with warnings, and writes nothing', async (t) => {
  const dir = t.testdir({ config: { 'concentrator.yaml': readFileSync(join(ROOT, 'config/concentrator.yaml'), 'utf8') } });
  const r = await runCli(['check-config', '-c', 'config/concentrator.yaml'], { cwd: dir });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^config OK\n/);
  t.match(r.stdout, /warning: central\.authKeyFile: .*data\/central\.key does not exist yet/);
  t.match(r.stdout, /warning: tcp\.tls: .*certs\/server\.crt .*development certificate/);
  t.same(readdirSync(dir), ['config'], 'no data/ or certs/ created');
});

t.test('check-config: exit 1 listing every error as file:line: key: message', async (t) => {
  const dir = t.testdir({ 'bad.yaml': `central:\n  authKey: ${KEY}\ntcp:\n  port: "x"\n  colour: blue\n` });
  const r = await runCli(['check-config', '-c', 'bad.yaml'], { cwd: dir });
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  t.same(lines, ['bad.yaml:4: tcp.port: must be of type integer', 'bad.yaml:5: tcp.colour: unknown key', '2 configuration errors in bad.yaml']);
  const syntax = await runCli(['check-config', '-c', 'syn.yaml'], { cwd: t.testdir({ 'syn.yaml': 'tcp:\n  port: [1\n' }) });
  t.equal(syntax.code, 1);
  t.match(syntax.stderr, /^syn\.yaml:\d+: YAML syntax error/);
  const missing = await runCli(['check-config', '-c', 'none.yaml'], { cwd: dir });
  t.equal(missing.code, 1);
  t.match(missing.stderr, /none\.yaml: cannot read/);
});

t.test('check-config honours IOTSOCKET_* overrides', async (t) => {
  const dir = t.testdir({ 'c.yaml': 'tcp: { port: 0 }\n' });
  const r = await runCli(['check-config', '-c', 'c.yaml'], { cwd: dir, env: { IOTSOCKET_CENTRAL__AUTHKEY: KEY } });
  t.equal(r.code, 0, r.stderr);
  const bad = await runCli(['check-config', '-c', 'c.yaml'], { cwd: dir, env: { IOTSOCKET_CENTRAL__AUTHKEY: KEY, IOTSOCKET_TCP__PORT: 'x' } });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /c\.yaml: tcp\.port: .*IOTSOCKET_TCP__PORT/);
});

t.test('start: bootstraps, listens, and exits 0 on SIGTERM', async (t) => {
  const yaml = readFileSync(join(ROOT, 'config/concentrator.yaml'), 'utf8').replace(/port: \d+/g, 'port: 0');
  const dir = t.testdir({ config: { 'concentrator.yaml': yaml } });
  const run = spawnCli(['start'], { cwd: dir });
  t.teardown(() => void run.child.kill('SIGKILL'));
  const listening = await run.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening'));
  const tcp = listening.tcp as AddressInfo;
  t.equal(tcp.address, '127.0.0.1');
  t.ok(tcp.port > 0);
  const sock = connect(tcp.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  sock.on('error', () => {});
  t.match(readFileSync(join(dir, 'data/central.key'), 'utf8'), /^[0-9A-F]{32}\n$/);
  t.equal(statSync(join(dir, 'data/central.key')).mode & 0o777, 0o600);
  t.ok(existsSync(join(dir, 'certs/server.crt')) && existsSync(join(dir, 'certs/server.key')));
  run.child.kill('SIGTERM');
  const r = await run.exited;
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /generated a new central auth key in .*data\/central\.key/);
  t.match(r.stdout, /"level":40.*DEVELOPMENT certificate/);
  t.notMatch(r.stdout, readFileSync(join(dir, 'data/central.key'), 'utf8').trim(), 'the key is never logged');
});

t.test('start: a second signal destroys and exits 2 (a runtime failure: the stop was not orderly)', async (t) => {
  const dir = t.testdir({ 'c.yaml': PORT0 });
  const run = spawnCli(['start', '-c', 'c.yaml'], { cwd: dir });
  t.teardown(() => void run.child.kill('SIGKILL'));
  const listening = await run.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening'));
  // A half-open client keeps the orderly close waiting.
  const sock = connect({ port: (listening.tcp as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  sock.on('error', () => {});
  await new Promise<void>((resolve) => sock.once('connect', resolve));
  const closing = run.waitForLog((l) => String(l.msg).startsWith('shutting down'));
  run.child.kill('SIGTERM');
  await closing;
  await new Promise<void>((resolve) => sock.once('end', resolve));
  run.child.kill('SIGINT');
  const r = await run.exited;
  sock.destroy();
  t.equal(r.code, 2);
  t.match(r.stdout, /second signal/);
});

t.test('start: a busy port exits 2 naming the port', async (t) => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => busy.close());
  const port = (busy.address() as AddressInfo).port;
  const dir = t.testdir({ 'c.yaml': PORT0.replace('tcp: { port: 0 }', `tcp: { port: ${port} }`) });
  const r = await runCli(['start', '-c', 'c.yaml'], { cwd: dir });
  t.equal(r.code, 2);
  t.equal(r.stderr, `iotsocket: port ${port} on 127.0.0.1 is already in use\n`, 'one clear line');
  t.notMatch(r.stdout, /stack|start failed/, 'and no JSON stack trace in the log');
});

t.test('start: a config error exits 1 before anything is written', async (t) => {
  const dir = t.testdir({ 'c.yaml': 'central: { authKeyFile: data/k }\ntcp: { port: 99999 }\n' });
  const r = await runCli(['start', '-c', 'c.yaml'], { cwd: dir });
  t.equal(r.code, 1);
  t.match(r.stderr, 'c.yaml:2: tcp.port: must be <= 65535');
  t.notOk(existsSync(join(dir, 'data')));
});

t.test('usage errors exit 64, apart from configuration errors (1), runtime failures (2) and request answers (3)', async (t) => {
  const dir = t.testdir({});
  const r = await runCli(['frobnicate'], { cwd: dir });
  t.equal(r.code, 64);
  t.match(r.stderr, /unknown command/);
  const missing = await runCli(['request', '--url', 'http://127.0.0.1:1'], { cwd: dir });
  t.equal(missing.code, 64, "commander's missing option");
  t.match(missing.stderr, /required option/);
  const badValue = await runCli(['acl', 'add', '--uid', 'x', '--group', 'G', '--key', 'nothex'], { cwd: dir });
  t.equal(badValue.code, 64, "commander's invalid option value");
  const unknownOption = await runCli(['keygen', '--frob'], { cwd: dir });
  t.equal(unknownOption.code, 64);
  t.equal((await runCli(['--help'], { cwd: dir })).code, 0, '--help stays 0');
});

