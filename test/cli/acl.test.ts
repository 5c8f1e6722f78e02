import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { formatAclJson } from '../../src/registry/acl-file.js';

const KEY = '00112233445566778899AABBCCDDEEFF';
const CONFIG = `central: { authKey: ${KEY} }\ntcp: { port: 0 }\nudp: { enabled: false }\nhttp: { enabled: false }\n`
  + 'groups:\n  Devices: { telemetry: true }\n  Stations: { telemetry: false }\nacl:\n  file: data/acl.json\nlog: { level: silent }\n';

/** Runs `iotsocket ...args` in this process, in `cwd`, and collects what it prints. */
async function cli(cwd: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (s) => { out += s; }, err: (s) => { err += s; },
    env: {}, cwd, signals: { on: () => process, removeListener: () => process } as unknown as CliIo['signals'],
    exit: (code) => { throw new Error(`exit(${code}) called`); },
  };
  const code = await main(['node', 'iotsocket', ...args], io);
  return { code, out, err };
}

const dev = { uid: 'dev-1', group: 'Devices', key: Buffer.alloc(16, 1) };

t.test('acl add refuses a group the config does not have, naming the valid ones; nothing is written', async (t) => {
  const dir = t.testdir({ config: { 'concentrator.yaml': CONFIG } });
  const r = await cli(dir, 'acl', 'add', '--uid', 'x', '--group', 'Nope');
  t.equal(r.code, 64, 'a usage error');
  t.match(r.err, /unknown group "Nope": the groups in config\/concentrator\.yaml are "Devices", "Stations"/);
  t.notOk(existsSync(join(dir, 'data/acl.json')), 'no file written');
  const ok = await cli(dir, 'acl', 'add', '--uid', 'x', '--group', 'Stations');
  t.equal(ok.code, 0, ok.err);
  t.match(JSON.parse(ok.out), { UID: 'x', GroupName: 'Stations' });
  t.match(readFileSync(join(dir, 'data/acl.json'), 'utf8'), /"x"/, "written to the config's acl.file (no -f)");
});

t.test('acl add without a readable config refuses: it cannot check the group', async (t) => {
  const dir = t.testdir({});
  const r = await cli(dir, 'acl', 'add', '-f', 'acl.json', '--uid', 'x', '--group', 'Devices');
  t.equal(r.code, 1);
  t.match(r.err, /config\/concentrator\.yaml: cannot read the config file/);
  t.match(r.err, /the config \(-c\) is needed/);
  t.notOk(existsSync(join(dir, 'acl.json')));
});

t.test('acl add of an existing UID is refused unless --replace', async (t) => {
  const dir = t.testdir({ 'c.yaml': CONFIG, data: { 'acl.json': formatAclJson([dev]) } });
  const before = readFileSync(join(dir, 'data/acl.json'), 'utf8');
  const r = await cli(dir, 'acl', 'add', '-c', 'c.yaml', '--uid', dev.uid, '--group', 'Devices');
  t.equal(r.code, 64);
  t.match(r.err, /UID "dev-1" is already in .*--replace/);
  t.equal(readFileSync(join(dir, 'data/acl.json'), 'utf8'), before, 'the live key is untouched');
  const replaced = await cli(dir, 'acl', 'add', '-c', 'c.yaml', '--uid', dev.uid, '--group', 'Stations', '--replace');
  t.equal(replaced.code, 0, replaced.err);
  const doc = JSON.parse(readFileSync(join(dir, 'data/acl.json'), 'utf8')) as Record<string, { GroupName: string; AuthKey: string }>;
  t.equal(doc[dev.uid]?.GroupName, 'Stations');
  t.not(doc[dev.uid]?.AuthKey, dev.key.toString('hex').toUpperCase(), 'a new key');
});

t.test('acl add never overwrites a broken ACL file', async (t) => {
  const broken = '{\n  "a": { "GroupName": "Devices", "AuthKey": "00" }\n';
  const dir = t.testdir({ 'c.yaml': CONFIG, data: { 'acl.json': broken } });
  const r = await cli(dir, 'acl', 'add', '-c', 'c.yaml', '--uid', 'x', '--group', 'Devices');
  t.equal(r.code, 1);
  t.match(r.err, /not valid JSON at line 3, column 1/);
  t.equal(readFileSync(join(dir, 'data/acl.json'), 'utf8'), broken);
});

t.test('acl list and remove: a missing file is an error, not an empty ACL', async (t) => {
  const dir = t.testdir({ 'c.yaml': CONFIG });
  const list = await cli(dir, 'acl', 'list', '-f', '/no/such/file');
  t.equal(list.code, 1);
  t.match(list.err, /ACL file \/no\/such\/file: no such file/);
  t.equal(list.out, '');
  const rm = await cli(dir, 'acl', 'remove', '-f', '/no/such/file', '--uid', 'x');
  t.equal(rm.code, 1);
  t.match(rm.err, /no such file/);
  const none = await cli(dir, 'acl', 'remove', '-c', 'c.yaml', '--uid', 'x');
  t.equal(none.code, 1, "the config's acl.file does not exist yet either");
});

t.test('check-config validates the ACL file, with the message start gives', async (t) => {
  const dir = t.testdir({ 'c.yaml': CONFIG, data: { 'acl.json': formatAclJson([dev, { uid: 'st', group: 'Nope', key: Buffer.alloc(16, 2) }]) } });
  const check = await cli(dir, 'check-config', '-c', 'c.yaml');
  t.equal(check.code, 1);
  const line = `c.yaml:9: acl.file: ACL file ${join(dir, 'data/acl.json')}: entry 1 (UID "st"): unknown-group "Nope"; the config's groups: "Devices", "Stations"`;
  t.equal(check.err.split('\n')[0], line);
  t.equal(check.out, '', 'no "config OK"');
  const start = await cli(dir, 'start', '-c', 'c.yaml');
  t.equal(start.code, 1, 'start: a configuration error, before listening');
  t.equal(start.err.split('\n')[0], line, 'the same message');

  writeFileSync(join(dir, 'data/acl.json'), '{\n  "a": {"GroupName": "Devices",, "AuthKey": "00"}\n}\n');
  const syntax = await cli(dir, 'check-config', '-c', 'c.yaml');
  t.equal(syntax.code, 1);
  t.match(syntax.err, /acl\.file: ACL file .*: not valid JSON at line 2, column 32: expected a property name in double quotes, found ","/);
});

t.test('check-config: a missing ACL file is fine (start begins with an empty ACL)', async (t) => {
  const dir = t.testdir({ 'c.yaml': CONFIG });
  const r = await cli(dir, 'check-config', '-c', 'c.yaml');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^config OK/);
});

t.test('acl add with a cluster config writes the file but says the running cluster reads Redis', async (t) => {
  const dir = t.testdir({ config: { 'concentrator.yaml': `${CONFIG}cluster: { redis: 'redis://127.0.0.1:1', nodeId: n1 }\n` } });
  const r = await cli(dir, 'acl', 'add', '--uid', 'x', '--group', 'Stations');
  t.equal(r.code, 0, r.err);
  t.match(r.err, /has a cluster key: running nodes read the ACL from Redis, and this file only seeds an empty cluster; change a running cluster with POST \/acl/);
  t.ok(existsSync(join(dir, 'data/acl.json')), 'the file is written (it seeds a new cluster)');
});
