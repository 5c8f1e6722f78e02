import t from 'tap';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { CloseCode, Format, ToT } from '../../src/protocol/index.js';
import { formatAclJson } from '../../src/registry/acl-file.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import { RawClient } from '../helpers/raw-client.js';

ensureBuilt();

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

t.test('iotsocket acl add/list/remove edit the file; the running daemon applies them (file watch)', async (t) => {
  const config = testConfig(t);
  const d = await startDaemon(t, config, []);
  const cwd = config.baseDir;
  // `acl add` checks the group against the daemon's config: the groups of testConfig.
  writeFileSync(join(cwd, 'c.yaml'), 'central: { authKey: 00112233445566778899AABBCCDDEEFF }\ngroups: { Devices: { telemetry: true }, Stations: {} }\n');
  const add = await runCli(['acl', 'add', '-c', 'c.yaml', '-f', config.acl.file, '--uid', 'cli-dev', '--group', 'Devices'], { cwd });
  t.equal(add.code, 0, add.stderr);
  const added = JSON.parse(add.stdout) as { UID: string; AuthKey: string };
  t.match(added, { UID: 'cli-dev', GroupName: 'Devices', AuthKey: /^[0-9A-F]{32}$/ });
  const list = await runCli(['acl', 'list', '-f', config.acl.file], { cwd });
  t.same(JSON.parse(list.stdout), { UID: 'cli-dev', GroupName: 'Devices' }, 'list shows UID and group, never keys');
  t.notOk(list.stdout.includes(added.AuthKey));

  await until(() => d.daemon.internals.acl.current.get('cli-dev') !== undefined, 'the watch to apply the file');
  const key = Buffer.from(added.AuthKey, 'hex');
  const obj = await RawClient.open(d.port, 'cli-dev', key);
  t.teardown(() => obj.client.close());
  t.ok(obj.accepted, 'the added device authenticates without a restart');

  const rm = await runCli(['acl', 'remove', '-f', config.acl.file, '--uid', 'cli-dev'], { cwd });
  t.equal(rm.code, 0);
  t.equal((await obj.client.nextOf(ToT.CLOSE)).code, CloseCode.MAINTENANCE, 'removal closes its session');
  t.equal((await runCli(['acl', 'remove', '-f', config.acl.file, '--uid', 'cli-dev'], { cwd })).code, 64, 'removing a missing UID fails (usage)');
  const bad = await runCli(['acl', 'add', '-c', 'c.yaml', '-f', config.acl.file, '--uid', 'x'.repeat(17), '--group', 'Devices'], { cwd });
  t.equal(bad.code, 64, 'a UID over 16 bytes is refused (usage)');
});

t.test('a hand-edited ACL file naming an unknown group is rejected whole; the old ACL stays', async (t) => {
  const config = testConfig(t);
  const dev = device('keep-me');
  const d = await startDaemon(t, config, [dev]);
  writeFileSync(config.acl.file, formatAclJson([dev, { uid: 'other', group: 'NoSuchGroup', key: Buffer.alloc(16, 3) }]));
  await until(() => d.logs.find('acl-reload-failed').length > 0, 'the reload failure');
  t.ok(d.daemon.internals.acl.current.get(dev.uid), 'previous ACL still applied');
  t.match(d.logs.find('acl-reload-failed')[0]?.err, /NoSuchGroup|unknown-group/);
});

t.test('iotsocket object: a simulated device answers the central (echo) and stops cleanly', async (t) => {
  const config = testConfig(t);
  const dev = device('sim-1');
  const d = await startDaemon(t, config, [dev]);
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());
  const sim = spawnCli(['object', '--connect', `127.0.0.1:${d.port}`, '--uid', dev.uid, '--key', dev.key.toString('hex'), '--echo'], { cwd: config.baseDir });
  t.teardown(() => void sim.child.kill('SIGKILL'));
  await sim.waitForLog((l) => l.event === 'connected');
  const logged = sim.waitForLog((l) => l.event === 'request');
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 5, payload: { format: Format.JSON, options: 0, data: Buffer.from('{"ping":1}') } });
  const res = await central.nextOf(ToT.RESPONSE);
  t.same([res.uid, res.code, res.payload.data.toString()], [dev.uid, 0, '{"ping":1}'], 'echoed');
  t.match(await logged, { tracking: 5, Format: 'JSON', Payload: '{"ping":1}' });
  sim.child.kill('SIGTERM');
  t.equal((await sim.exited).code, 0);
  await until(() => d.daemon.internals.sessions.get(dev.uid) === undefined, 'the session to end (Close 0x01)');
  // keepSessionSec is 60: a dropped socket would have kept the session; only a Close 0x01 ends it.
  t.same(d.logs.find('session-kept').filter((l) => l.uid === dev.uid), [], 'never kept: the simulator did not just drop its socket');
  t.equal(d.logs.find('session-ended').find((l) => l.uid === dev.uid)?.reason, 'closed', 'ended as closed by its peer');
});

t.test('SIGHUP re-reads the config: log level applied, a port change reported as needing a restart', async (t) => {
  const dir = t.testdir({
    'c.yaml': 'tcp: { port: 0 }\nudp: { enabled: false }\nhttp: { enabled: false }\ncentral: { authKey: 00112233445566778899AABBCCDDEEFF }\nlog: { level: info }\n',
  });
  const run = spawnCli(['start', '-c', 'c.yaml'], { cwd: dir });
  t.teardown(() => void run.child.kill('SIGKILL'));
  const listening = await run.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening'));
  const port = (listening.tcp as AddressInfo).port;
  const text = readFileSync(join(dir, 'c.yaml'), 'utf8').replace('level: info', 'level: debug').replace('port: 0', 'port: 1');
  writeFileSync(join(dir, 'c.yaml'), text);
  const restart = run.waitForLog((l) => l.event === 'restart-needed');
  const reloaded = run.waitForLog((l) => l.event === 'reloaded');
  run.child.kill('SIGHUP');
  t.same((await restart).keys, ['tcp.port'], 'the port change needs a restart');
  t.same((await reloaded).applied, ['log.level']);
  const c = await RawClient.open(port, '', CENTRAL_KEY);
  t.teardown(() => c.client.close());
  t.ok(c.accepted, 'still serving on the old port: the central authenticates there');
  c.client.send({ type: ToT.PING });
  t.equal((await c.client.nextOf(ToT.PONG, 3000)).type, ToT.PONG, 'and is answered');
  run.child.kill('SIGTERM');
  t.equal((await run.exited).code, 0);
});

t.test('iotsocket request: one POST /request, prints the answer, exit 0 only for Code 0', async (t) => {
  const config = testConfig(t, { http: { enabled: true } });
  const dev = device('req-1');
  const d = await startDaemon(t, config, [dev]);
  const url = `http://127.0.0.1:${d.daemon.addresses!.http!.port}`;
  const key = CENTRAL_KEY.toString('hex');
  const sim = spawnCli(['object', '--connect', `127.0.0.1:${d.port}`, '--uid', dev.uid, '--key', dev.key.toString('hex'), '--echo'], { cwd: config.baseDir });
  t.teardown(() => void sim.child.kill('SIGKILL'));
  await sim.waitForLog((l) => l.event === 'connected');
  const ok = await runCli(['request', '--url', url, '--key', key, '--uid', dev.uid, '--payload', '{"on":true}'], { cwd: config.baseDir });
  t.equal(ok.code, 0, ok.stderr);
  t.same(JSON.parse(ok.stdout), { Code: 0, Payload: { on: true }, Format: 'JSON' });
  const ascii = await runCli(['request', '--url', url, '--key', key, '--uid', dev.uid, '--payload', 'hello', '--format', 'ascii'], { cwd: config.baseDir });
  t.same(JSON.parse(ascii.stdout), { Code: 0, Payload: 'hello', Format: 'ASCII' });
  const missing = await runCli(['request', '--url', url, '--key', key, '--uid', 'nobody', '--payload', '1'], { cwd: config.baseDir });
  t.equal(missing.code, 3, 'Code 160 → exit 3 (answered, Code not 0)');
  t.equal(JSON.parse(missing.stdout).Code, 160);
  const listed = await runCli(['acl', 'list', '--url', url, '--key', key], { cwd: config.baseDir });
  t.same([listed.code, JSON.parse(listed.stdout)], [0, { UID: dev.uid, GroupName: 'Devices' }], 'acl list --url reads GET /acl, without keys');
  const unauthorized = await runCli(['request', '--url', url, '--key', '00'.repeat(16), '--uid', dev.uid, '--payload', '1'], { cwd: config.baseDir });
  t.equal(unauthorized.code, 2, 'HTTP 401 → exit 2');
  t.match(unauthorized.stderr, /HTTP 401/);
});
