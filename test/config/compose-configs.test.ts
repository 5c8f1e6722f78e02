import t from 'tap';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ObjectClient, json, decodePayloadJson } from '../../src/client/index.js';
import { parseConfig } from '../../src/config/load.js';
import { formatAclJson } from '../../src/registry/acl-file.js';
import { ROOT, ensureBuilt, spawnCli, type CliChild } from '../helpers/cli.js';
import { isListening } from '../helpers/cli-daemon.js';
import { withTimeout } from '../helpers/cluster.js';
import { device } from '../helpers/daemon.js';
import { call } from '../helpers/http.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const NODES = ['node1', 'node2', 'node3'] as const;

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  ulimits?: { nofile: { soft: number; hard: number } };
  healthcheck?: { test: string[] };
}

const compose = parse(read('docs/docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };

/** The image's ENV (docs/Dockerfile), as the container gets it. */
function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  const lines = read('docs/Dockerfile').replace(/\\\n/g, ' ').split('\n').filter((l) => l.startsWith('ENV '));
  for (const l of lines) for (const pair of l.slice(4).trim().split(/\s+/)) { const [k, v] = pair.split('='); if (k && v !== undefined) env[k] = v; }
  return env;
}

/** The node's config file: what the compose file mounts at the path its command reads. */
function configFileOf(s: Service): string {
  const at = s.command![s.command!.indexOf('-c') + 1]!;
  const mount = s.volumes!.find((v) => v.split(':')[1] === at)!;
  return join('docs', mount.split(':')[0]!);
}

t.test('docs/docker-compose.yml: Redis and three nodes, each with its config, its own host ports, one image and one shared state volume', async (t) => {
  t.same(Object.keys(compose.services).sort(), ['node1', 'node2', 'node3', 'redis']);
  const redis = compose.services.redis!;
  t.match(redis.image, /^redis:7/);
  t.match(redis.healthcheck?.test, ['CMD', 'redis-cli', 'ping']);
  t.match(redis.command, ['redis-server', '--appendonly', 'yes', '--appendfsync', 'everysec', '--protected-mode', 'no'], 'durable, and reachable from the other containers whatever the image\'s default');
  t.notOk((redis as Service).ports, 'Redis is not published on the host');
  const hostPorts = new Set<string>();
  const env = imageEnv();
  const ids = new Set<string>();
  for (const name of NODES) {
    const s = compose.services[name]!;
    t.equal(s.image, 'iotsocket:latest', `${name}: the image`);
    t.same(s.command, ['iotsocket', 'start', '-c', '/etc/iotsocket/node.yaml']);
    const file = configFileOf(s);
    t.equal(file, `docs/compose/${name}.yaml`);
    t.ok(existsSync(join(ROOT, file)), `${file} exists`);
    t.ok(s.volumes!.includes('iotsocket-data:/var/lib/iotsocket'), `${name}: the shared volume at the image's WORKDIR`);
    t.match(read('docs/Dockerfile'), /^WORKDIR \/var\/lib\/iotsocket$/m);
    t.same(s.depends_on?.redis, { condition: 'service_healthy' });
    if (name !== 'node1') t.same(s.depends_on?.node1, { condition: 'service_healthy' }, `${name} starts once node1 wrote the shared key and certificate`);
    t.ok(s.ulimits!.nofile.soft >= 200_000, `${name}: descriptors`);
    // The config as the container loads it: the file plus the image's ENV.
    const res = parseConfig(read(file), { file, baseDir: t.testdir({}), env, mode: 'check' });
    t.same(res.errors, [], `${file} passes check-config`);
    const c = parseConfig(read(file), { baseDir: t.testdir({}), env: { ...env, IOTSOCKET_CENTRAL__AUTHKEY: '00112233445566778899AABBCCDDEEFF' }, mode: 'check' }).config!;
    t.equal(new URL(c.cluster!.redis).hostname, 'redis', `${name} reaches the compose service redis`);
    t.match(c.cluster!.link, { host: '0.0.0.0', advertise: name }, `${name}: its node links listen in the container and are dialled by its service name`);
    ids.add(c.cluster!.nodeId);
    const container = (p: string) => s.ports!.some((m) => m.endsWith(`:${p}`));
    t.ok(container(`${c.tcp.port}/tcp`) && container(`${c.udp.port}/udp`) && container(`${c.http.port}`) && container(`${c.admin!.port}`), `${name}: every listener published`);
    t.ok(s.ports!.find((m) => m.endsWith(`:${c.admin!.port}`))!.startsWith('127.0.0.1:'), `${name}: the admin listener on the host's loopback only`);
    for (const m of s.ports!) {
      const host = m.split(':').slice(0, -1).join(':') + (m.endsWith('/udp') ? '/udp' : '/tcp');
      t.notOk(hostPorts.has(host), `${name}: host port ${host} is its own`);
      hostPorts.add(host);
    }
  }
  t.equal(ids.size, 3, 'three node ids');
  t.ok(compose.services.node1!.build, 'node1 builds the image');
  t.notOk(compose.services.node2!.build || compose.services.node3!.build, 'built once');
});

/** The port of one address field of the "listening" line, or of the admin listener's line. */
function portOf(line: Record<string, unknown>, key: string): number {
  const v = line[key];
  if (typeof v === 'string') return Number(v.split(':').pop());
  return (v as { port: number }).port;
}

t.test('the three nodes of the compose file, started directly from its configs on a real redis-server, form one cluster', async (t) => {
  ensureBuilt();
  const redis = await RedisServer.start(t);
  const dev = device('compose-1');
  // One folder for the three, as the shared volume: node1 writes the central key and certificate, the others read them.
  const dir = mkdtempSync(join(tmpdir(), 'iots-compose-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data/acl.json'), formatAclJson([dev]));
  // The container's environment, with every address rewritten to loopback and free ports, and Redis to the test's.
  const env: Record<string, string> = {
    ...imageEnv(),
    IOTSOCKET_TCP__HOST: '127.0.0.1', IOTSOCKET_UDP__HOST: '127.0.0.1', IOTSOCKET_HTTP__HOST: '127.0.0.1', IOTSOCKET_ADMIN__HOST: '127.0.0.1',
    IOTSOCKET_TCP__PORT: '0', IOTSOCKET_UDP__PORT: '0', IOTSOCKET_HTTP__PORT: '0', IOTSOCKET_ADMIN__PORT: '0',
    IOTSOCKET_CLUSTER__REDIS: redis.url,
    // The node links too: loopback and a free port each, dialled at 127.0.0.1 rather than the compose service's name.
    IOTSOCKET_CLUSTER__LINK__HOST: '127.0.0.1', IOTSOCKET_CLUSTER__LINK__PORT: '0', IOTSOCKET_CLUSTER__LINK__ADVERTISE: '127.0.0.1',
  };
  const runs: CliChild[] = [];
  t.teardown(() => { for (const r of runs) r.child.kill('SIGKILL'); });
  const start = async (name: string) => {
    copyFileSync(join(ROOT, configFileOf(compose.services[name]!)), join(dir, `${name}.yaml`));
    const run = spawnCli(['start', '-c', `${name}.yaml`, '--no-pretty'], { cwd: dir, env });
    runs.push(run);
    const admin = run.waitForLog((l) => l.event === 'listening-admin');
    const listening = await withTimeout(run.waitForLog(isListening), 20_000, `${name} to log "listening"`);
    return { name, run, tcp: portOf(listening, 'tcp'), http: portOf(listening, 'http'), admin: portOf(await admin, 'admin') };
  };
  const n1 = await start('node1');
  const [n2, n3] = await Promise.all([start('node2'), start('node3')]);
  const key = `Bearer ${readFileSync(join(dir, 'data/central.key'), 'utf8').trim()}`;
  t.ok(existsSync(join(dir, 'certs/server.crt')), 'node1 wrote the shared development certificate');

  const obj = new ObjectClient({ host: '127.0.0.1', port: n2.tcp, uid: dev.uid, key: dev.key, handler: (q) => ({ code: 0, payload: json({ echo: decodePayloadJson(q.payload) }) }) });
  t.teardown(() => obj.destroy());
  await obj.connect();
  const admin1 = `http://127.0.0.1:${n1.admin}`;
  const sessions = await call(admin1, '/sessions', undefined, { method: 'GET', auth: key });
  t.equal(sessions.status, 200);
  t.match((sessions.json.sessions as Array<Record<string, unknown>>).find((s) => s.UID === dev.uid), { Kind: 'object', State: 'connected', Node: 'node2' },
    'GET /sessions at node1 lists the device connected to node2');
  const answer = await call(`http://127.0.0.1:${n3.http}`, '/request', { UID: dev.uid, Timeout: 5, Format: 'JSON', Payload: { via: 'node3' } }, { auth: key });
  t.same([answer.status, answer.json], [200, { Code: 0, Format: 'JSON', Payload: { echo: { via: 'node3' } } }], 'POST /request at node3 reaches the device on node2');
  let up = '';
  await until(async () => {
    up = (await call(admin1, '/metrics', undefined, { method: 'GET', auth: null, contentType: null })).text;
    return /^iotsocket_cluster_nodes_up 3$/m.test(up) && /^iotsocket_cluster_node_sessions\{node="node2"\} 1$/m.test(up);
  }, 'node1 to count three nodes up and one session at node2 (a heartbeat or two: 3 s each by default)', 15_000)
    .catch((err: Error) => { throw new Error(`${err.message}; last: ${up.split('\n').filter((l) => l.startsWith('iotsocket_cluster_node')).join(' | ')}`); });
  t.match(up, /^iotsocket_cluster_nodes_up 3$/m, 'node1\'s /metrics: three nodes up, node2 holding the device');

  // A graceful stop of each: exit 0.
  for (const r of runs) r.child.kill('SIGTERM');
  const exits = await withTimeout(Promise.all(runs.map((r) => r.exited)), 15_000, 'the three nodes to stop');
  t.same(exits.map((e) => e.code), [0, 0, 0], 'each stopped gracefully');
  runs.length = 0;
});
