import t from 'tap';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultNodeId, hideRedisPassword, NODE_ID_PATTERN } from '../../src/config/cluster.js';
import { parseConfig } from '../../src/config/load.js';
import { planReload } from '../../src/config/reload-plan.js';
import { configSchema } from '../../src/config/schema.js';

const KEY = '00112233445566778899AABBCCDDEEFF';
const HEAD = `central: { authKey: ${KEY} }\n`;
const parse = (text: string, env?: Record<string, string>, baseDir = '/base') => parseConfig(HEAD + text, { baseDir, env });

t.test('absent: no cluster in Config (one node, in memory)', async (t) => {
  const res = parse('');
  t.same(res.errors, []);
  t.notOk('cluster' in res.config!, 'no key at all, not cluster: undefined');
});

t.test('a minimal cluster key gets every default (pinned)', async (t) => {
  const res = parse('cluster:\n  redis: redis://127.0.0.1:6379\n');
  t.same(res.errors, []);
  t.same(res.warnings, []);
  t.strictSame(res.config!.cluster, {
    redis: 'redis://127.0.0.1:6379', nodeId: defaultNodeId(), keyPrefix: 'iotsocket:',
    commandTimeoutMs: 1000, heartbeatSec: 3, leaseSec: 7, inbox: 'direct', link: { host: '127.0.0.1', port: 0 },
    drainRate: 500, rebalance: { enabled: false, threshold: 1.1, floor: 100 },
  });
  t.ok(Object.isFrozen(res.config!.cluster), 'frozen with the rest');
  t.match(res.config!.cluster!.nodeId, NODE_ID_PATTERN);
  const all = parse([
    'cluster:', '  redis: rediss://redis.example:6380/2', '  nodeId: node-1.eu_west', '  keyPrefix: "fleet-a:"',
    '  commandTimeoutMs: 250', '  heartbeatSec: 0.5', '  leaseSec: 2', '  inbox: redis',
    '  link:', '    host: 0.0.0.0', '    port: 7400', '    advertise: node-1.internal',
  ].join('\n'));
  t.same(all.errors, []);
  t.strictSame(all.config!.cluster, {
    redis: 'rediss://redis.example:6380/2', nodeId: 'node-1.eu_west', keyPrefix: 'fleet-a:', commandTimeoutMs: 250, heartbeatSec: 0.5, leaseSec: 2,
    inbox: 'redis', link: { host: '0.0.0.0', port: 7400, advertise: 'node-1.internal' },
    drainRate: 500, rebalance: { enabled: false, threshold: 1.1, floor: 100 },
  });
});

t.test('the default node id: hostname-pid, reduced to [A-Za-z0-9._-], at most 64 characters with the pid whole', async (t) => {
  t.equal(defaultNodeId('web-1.example.org', 4242), 'web-1.example.org-4242');
  t.equal(defaultNodeId('my host:{x}', 7), 'my-host--x--7');
  t.equal(defaultNodeId('', 7), 'node-7');
  const long = defaultNodeId('h'.repeat(100), 1234567);
  t.equal(long.length, 64);
  t.ok(long.endsWith('-1234567'));
  for (const id of [long, defaultNodeId('ünïcödé', 1)]) t.match(id, NODE_ID_PATTERN);
});

t.test('cluster.redis: only redis:// or rediss://, named with its line and shown without its password', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['http://127.0.0.1:6379', /must be a redis:\/\/ or rediss:\/\/ URL, not http:\/\/127\.0\.0\.1:6379/],
    ['127.0.0.1:6379', /must be a redis:\/\/ or rediss:\/\/ URL/],
    ['redis://:hunter2@127.0.0.1:6379/zero', /database number .*, not redis:\/\/:\*\*\*@127\.0\.0\.1:6379\/zero/],
    ['redis://user:hunter2@', /must be a redis:\/\/ or rediss:\/\/ URL \(redis:\/\/\[user:password@\]host.*, not redis:\/\/\*\*\*@$/],
    ['redis://', /must name a host/],
    ['redis//user:hunter2@host', /must be a redis:\/\/ or rediss:\/\/ URL/],
  ];
  for (const [url, message] of cases) {
    const res = parse(`log: { level: info }\ncluster:\n  redis: "${url}"\n`);
    t.match(res.errors, [{ path: 'cluster.redis', line: 4, message }], url);
    t.equal(res.errors.length, 1, `${url}: one error`);
    t.notMatch(JSON.stringify(res.errors), /hunter2/, `${url}: the password is not echoed`);
  }
  const env = parse('', { IOTSOCKET_CLUSTER__REDIS: 'http://:hunter2@h' });
  t.match(env.errors, [{ path: 'cluster.redis', message: /\(set by IOTSOCKET_CLUSTER__REDIS\)/ }], 'from the environment: names the variable');
  t.equal(env.errors[0]!.line, undefined);
  t.notMatch(JSON.stringify(env.errors), /hunter2/);
  t.same(parse('cluster: { redis: "rediss://[::1]:6380" }\n').errors, [], 'IPv6 and TLS');
});

t.test('cluster.inbox and cluster.link: bad values are named with their line; a wildcard link host needs advertise', async (t) => {
  const bad = parse('cluster:\n  redis: redis://h\n  inbox: kafka\n');
  t.match(bad.errors, [{ path: 'cluster.inbox', line: 4, message: /direct.*redis/ }]);
  const port = parse('cluster:\n  redis: redis://h\n  link:\n    port: 70000\n');
  t.match(port.errors, [{ path: 'cluster.link.port', line: 5, message: /65535/ }]);
  const wild = parse('cluster:\n  redis: redis://h\n  link:\n    host: 0.0.0.0\n');
  t.match(wild.errors, [{ path: 'cluster.link.advertise', message: /needed when cluster\.link\.host is 0\.0\.0\.0/ }]);
  t.same(parse('cluster:\n  redis: redis://h\n  inbox: redis\n  link: { host: 0.0.0.0 }\n').errors, [], 'streams need no link address');
  t.same(parse('cluster:\n  redis: redis://h\n  link: { host: 0.0.0.0, advertise: 10.0.0.5 }\n').errors, []);
  const env = parse('cluster:\n  redis: redis://h\n', { IOTSOCKET_CLUSTER__LINK__PORT: '7401', IOTSOCKET_CLUSTER__INBOX: 'redis' });
  t.match(env.config?.cluster, { inbox: 'redis', link: { port: 7401 } }, 'from the environment');
});

t.test('hideRedisPassword: the password becomes ***, everything else stays', async (t) => {
  t.equal(hideRedisPassword('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  t.equal(hideRedisPassword('redis://app:s3cr%40t@h:6379/1'), 'redis://app:***@h:6379/1');
  t.equal(hideRedisPassword('rediss://:p@h'), 'rediss://:***@h');
  t.equal(hideRedisPassword('redis://user@h'), 'redis://user@h', 'a user alone is no secret');
  t.equal(hideRedisPassword('x://u:p@ss@h:1'), 'x://u:***@h:1', 'an @ in the password');
  t.equal(hideRedisPassword('redis://u:p@'), 'redis://***@', 'not parsable as a URL: all before the last @ hidden');
  t.equal(hideRedisPassword('redis//u:p@h'), '***@h');
});

t.test('nodeId, keyPrefix, commandTimeoutMs, leaseSec: each error names its key and line', async (t) => {
  for (const id of ['a:b', '', 'x'.repeat(65), 'node{1}', 'é']) {
    const res = parse(`cluster:\n  redis: redis://h\n  nodeId: "${id}"\n`);
    t.match(res.errors, [{ path: 'cluster.nodeId', line: 4, message: /1-64 characters of A-Z, a-z, 0-9/ }], JSON.stringify(id));
  }
  t.match(parse('cluster:\n  redis: redis://h\n  keyPrefix: "a{b}:"\n').errors, [{ path: 'cluster.keyPrefix', line: 4, message: /must not hold "\{" or "\}"/ }]);
  t.match(parse('cluster:\n  redis: redis://h\n  commandTimeoutMs: 10\n').errors, [{ path: 'cluster.commandTimeoutMs', line: 4, message: /must be >= 50/ }]);
  const lease = parse('cluster:\n  redis: redis://h\n  heartbeatSec: 5\n  leaseSec: 5\n');
  t.match(lease.errors, [{ path: 'cluster.leaseSec', line: 5, message: /must be greater than cluster\.heartbeatSec \(5\)/ }]);
  t.match(parse('cluster:\n  redis: redis://h\n  heartbeatSec: 8\n').errors, [{ path: 'cluster.leaseSec', message: /cluster\.heartbeatSec \(8\)/ }], 'against the default lease too');
  t.match(parse('cluster:\n  redis: redis://h\n  heartbeatSec: "3"\n').errors, [{ path: 'cluster.heartbeatSec', message: /type number/ }], 'a type error alone, no comparison of a string');
  t.match(parse('cluster:\n  nodeId: n1\n').errors, [{ path: 'cluster.redis', line: 2, message: 'is required' }]);
  t.match(parse('cluster:\n  redis: redis://h\n  redisUrl: x\n').errors, [{ path: 'cluster.redisUrl', line: 4, message: 'unknown key' }]);
});

t.test('environment overrides: IOTSOCKET_CLUSTER__* sets the key, even absent from the file', async (t) => {
  const res = parse('', { IOTSOCKET_CLUSTER__REDIS: 'redis://10.0.0.5:6379', IOTSOCKET_CLUSTER__NODEID: 'n2', IOTSOCKET_CLUSTER__COMMANDTIMEOUTMS: '500' });
  t.same(res.errors, []);
  t.match(res.config!.cluster, { redis: 'redis://10.0.0.5:6379', nodeId: 'n2', commandTimeoutMs: 500, leaseSec: 7 });
  const bad = parse('cluster: { redis: redis://h }\n', { IOTSOCKET_CLUSTER__LEASESEC: '1', IOTSOCKET_CLUSTER__NODEID: 'a b' });
  t.match(bad.errors, [
    { path: 'cluster.nodeId', message: /\(set by IOTSOCKET_CLUSTER__NODEID\)/ },
    { path: 'cluster.leaseSec', message: /cluster\.heartbeatSec \(3\).*\(set by IOTSOCKET_CLUSTER__LEASESEC\)/ },
  ]);
});

t.test('cluster.passwordFile: relative to the config dir, read trimmed into password; never in Config as a path', async (t) => {
  const dir = t.testdir({ secrets: { 'redis.pass': '  s3cret pass\n' }, 'empty.pass': '\n' });
  chmodSync(join(dir, 'secrets/redis.pass'), 0o600);
  const res = parse('cluster:\n  redis: redis://h\n  passwordFile: secrets/redis.pass\n', {}, dir);
  t.same(res.errors, []);
  t.same(res.warnings, []);
  t.equal(res.config!.cluster!.password, 's3cret pass');
  t.notOk('passwordFile' in res.config!.cluster!);
  chmodSync(join(dir, 'secrets/redis.pass'), 0o644);
  const open = parse('cluster:\n  redis: redis://:old@h\n  passwordFile: secrets/redis.pass\n', {}, dir);
  t.same(open.warnings.sort(), [
    `cluster.passwordFile: ${join(dir, 'secrets/redis.pass')} is readable by other users; chmod 600 it`,
    'cluster.redis: its password is replaced by the one in cluster.passwordFile',
  ]);
  t.match(parse('cluster:\n  redis: redis://h\n  passwordFile: nope.pass\n', {}, dir).errors,
    [{ path: 'cluster.passwordFile', line: 4, message: `file not found: ${join(dir, 'nope.pass')}` }]);
  t.match(parse('cluster:\n  redis: redis://h\n  passwordFile: empty.pass\n', {}, dir).errors, [{ path: 'cluster.passwordFile', line: 4, message: /is empty/ }]);
});

t.test('cluster.tls.ca: resolved absolute, must exist, and needs rediss://', async (t) => {
  const dir = t.testdir({ 'ca.pem': 'x' });
  const res = parse('cluster:\n  redis: rediss://h\n  tls: { ca: ca.pem }\n', {}, dir);
  t.same(res.errors, []);
  t.same(res.config!.cluster!.tls, { ca: join(dir, 'ca.pem') });
  t.match(parse('cluster:\n  redis: rediss://h\n  tls:\n    ca: missing.pem\n', {}, dir).errors,
    [{ path: 'cluster.tls.ca', line: 5, message: `file not found: ${join(dir, 'missing.pem')}` }]);
  t.match(parse('cluster:\n  redis: redis://h\n  tls:\n    ca: ca.pem\n', {}, dir).errors, [{ path: 'cluster.tls.ca', line: 5, message: /needs a rediss:\/\/ URL/ }]);
});

t.test('every cluster key needs a restart (SIGHUP applies none)', async (t) => {
  const single = parse('').config!;
  const a = parse('cluster: { redis: redis://h, nodeId: n1 }\n').config!;
  t.same(planReload(single, a), { reload: [], restart: ['cluster'] }, 'turning cluster on');
  t.same(planReload(a, single), { reload: [], restart: ['cluster'] }, 'turning it off');
  const b = parse('cluster: { redis: redis://h2, nodeId: n2, keyPrefix: "x:", commandTimeoutMs: 60, heartbeatSec: 1, leaseSec: 2, tls: {} }\n').config!;
  t.same(planReload(a, b).restart.sort(), ['cluster.commandTimeoutMs', 'cluster.heartbeatSec', 'cluster.keyPrefix', 'cluster.leaseSec', 'cluster.nodeId', 'cluster.redis']);
  t.same(planReload(a, b).reload, []);
});

t.test('the README configuration table lists every cluster key', async (t) => {
  const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
  const keys = Object.entries(configSchema.properties.cluster.properties)
    .flatMap(([k, v]) => ('properties' in v ? Object.keys(v.properties).map((s) => `cluster.${k}.${s}`) : [`cluster.${k}`]));
  t.same(keys.filter((k) => !readme.includes(`\`${k}\``)), [], `${keys.length} keys, each in the table`);
});

t.test('advertise, drainRate, rebalance: read as written; each bad value names its key and line', async (t) => {
  const good = parse([
    'cluster:', '  redis: redis://h', '  advertise: { host: node-a.example, port: 7000 }', '  drainRate: 50',
    '  rebalance: { enabled: true, threshold: 1.25, floor: 10 }',
  ].join('\n'));
  t.same(good.errors, []);
  t.match(good.config!.cluster, { advertise: { host: 'node-a.example', port: 7000 }, drainRate: 50, rebalance: { enabled: true, threshold: 1.25, floor: 10 } });
  t.same(parse('cluster:\n  redis: redis://h\n  rebalance: { enabled: true }\n').config!.cluster!.rebalance, { enabled: true, threshold: 1.1, floor: 100 }, 'defaults fill a partial rebalance');
  const cases: Array<[string, string, RegExp]> = [
    ['  advertise: { host: 0.0.0.0, port: 7000 }', 'cluster.advertise.host', /not the wildcard 0\.0\.0\.0/],
    ['  advertise: { host: "::", port: 7000 }', 'cluster.advertise.host', /not the wildcard ::/],
    ['  advertise: { host: a.example, port: 0 }', 'cluster.advertise.port', /must be >= 1/],
    ['  advertise: { host: a.example, port: 70000 }', 'cluster.advertise.port', /must be <= 65535/],
    ['  advertise: { host: a.example }', 'cluster.advertise.port', /is required/],
    [`  advertise: { host: ${'é'.repeat(128)}, port: 1 }`, 'cluster.advertise.host', /at most 255 bytes of UTF-8/],
    ['  advertise: { host: a.example, port: 1, tls: true }', 'cluster.advertise.tls', /unknown key/],
    ['  drainRate: 0', 'cluster.drainRate', /must be > 0/],
    ['  drainRate: fast', 'cluster.drainRate', /type number/],
    ['  rebalance: { enabled: yes please }', 'cluster.rebalance.enabled', /type boolean/],
    ['  rebalance: { threshold: 1 }', 'cluster.rebalance.threshold', /must be > 1/],
    ['  rebalance: { floor: -1 }', 'cluster.rebalance.floor', /must be >= 0/],
    ['  rebalance: { floor: 2.5 }', 'cluster.rebalance.floor', /type integer/],
    ['  rebalance: { treshold: 2 }', 'cluster.rebalance.treshold', /unknown key/],
  ];
  for (const [line, path, message] of cases) {
    const res = parse(`cluster:\n  redis: redis://h\n${line}\n`);
    t.match(res.errors, [{ path, line: 4, message }], line);
    t.equal(res.errors.length, 1, `${line}: one error`);
  }
});

t.test('environment overrides reach advertise, drainRate and rebalance', async (t) => {
  const res = parse('cluster: { redis: redis://h }\n', {
    IOTSOCKET_CLUSTER__ADVERTISE__HOST: '10.0.0.7', IOTSOCKET_CLUSTER__ADVERTISE__PORT: '7001',
    IOTSOCKET_CLUSTER__DRAINRATE: '20', IOTSOCKET_CLUSTER__REBALANCE__ENABLED: 'true',
  });
  t.same(res.errors, []);
  t.match(res.config!.cluster, { advertise: { host: '10.0.0.7', port: 7001 }, drainRate: 20, rebalance: { enabled: true, threshold: 1.1 } });
  const bad = parse('cluster: { redis: redis://h }\n', { IOTSOCKET_CLUSTER__ADVERTISE__HOST: '0.0.0.0', IOTSOCKET_CLUSTER__ADVERTISE__PORT: '1' });
  t.match(bad.errors, [{ path: 'cluster.advertise.host', message: /wildcard.*\(set by IOTSOCKET_CLUSTER__ADVERTISE__HOST\)/ }]);
});
