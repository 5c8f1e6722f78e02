import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../../src/cli/io.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { withTimeout } from '../helpers/cluster.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { RedisServer } from '../helpers/redis.js';

// What an operator sees when a node of this release meets a live node of a release two versions
// on (it speaks only node protocol 3): `iotsocket start` refuses to join, says why, exits 2.
t.test('iotsocket start next to a live node that speaks no common node-protocol version: one line naming it, exit 2', async (t) => {
  ensureBuilt();
  const redis = await RedisServer.start(t);
  const keys = new RedisKeys('npx:');
  const r = redis.client(t);
  // A live node of a newer release, as its registry record and lease look in Redis.
  await r.set(keys.nodeLease('newer'), 'beef0001', 'PX', 60_000);
  await r.hset(keys.nodeList, 'newer', JSON.stringify({ node: 'newer', incarnation: 'beef0001', address: '10.1.2.3:50505', sessions: 4, protocol: 3, protocols: { min: 3, max: 3 } }));
  const dir = mkdtempSync(join(tmpdir(), 'iots-npx-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'acl.json'), '{}\n');
  writeFileSync(join(dir, 'node.yaml'), [
    'tcp: { host: 127.0.0.1, port: 0 }',
    'udp: { enabled: false }',
    'http: { enabled: false }',
    `central: { authKey: ${CENTRAL_KEY.toString('hex')} }`,
    'acl: { file: acl.json }',
    `cluster: { redis: ${JSON.stringify(redis.url)}, nodeId: older, keyPrefix: "npx:", heartbeatSec: 1, leaseSec: 2 }`,
    '',
  ].join('\n'));
  const run = await withTimeout(runCli(['start', '-c', 'node.yaml', '--no-pretty'], { cwd: dir }), 20_000, 'iotsocket start to exit');
  t.equal(run.code, ExitCode.RUNTIME, `exit 2 (stderr: ${run.stderr})`);
  t.equal(run.stderr, 'iotsocket: node older speaks node protocol 1..2 and cannot join: live node newer (10.1.2.3:50505) speaks 3; a rolling upgrade must step one version at a time (upgrade or stop that node first)\n');
  const line = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'node-protocol-mismatch');
  t.match(line, { level: 50, node: 'older', protocols: { min: 1, max: 2 }, other: 'newer', otherAddress: '10.1.2.3:50505', otherProtocols: { min: 3, max: 3 } }, 'the log line names the other node and both ranges');
  t.equal(await r.hexists(keys.nodeList, 'older'), 0, 'it never announced itself');
});
