import t from 'tap';
import { createServer, type AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import { withTimeout } from '../helpers/cluster.js';
import { device } from '../helpers/daemon.js';
import { RedisServer } from '../helpers/redis.js';
import { WORKERS_READY_MS, alive, writeNodeDir, yaml } from '../helpers/workers.js';

ensureBuilt();

t.test('--workers without cluster.redis: a config error naming the key, exit 1, nothing started', async (t) => {
  const dir = t.testdir({});
  writeNodeDir(dir, [device('d1')]);
  const r = await runCli(['start', '-c', 'c.yaml', '--workers', '2'], { cwd: dir });
  t.equal(r.code, 1, 'exit 1 (configuration error)');
  t.match(r.stderr, /^c\.yaml: cluster\.redis: --workers 2 runs 2 nodes of one cluster/m, 'names the file and the key');
  t.equal(r.stdout, '', 'no log line: nothing was started');
});

t.test('--workers with a bad count is a usage error (64)', async (t) => {
  const dir = t.testdir({});
  writeNodeDir(dir, [device('d1')]);
  for (const bad of ['0', 'two', '65']) {
    const r = await runCli(['start', '-c', 'c.yaml', '--workers', bad], { cwd: dir });
    t.equal(r.code, 64, `--workers ${bad}: exit 64`);
    t.match(r.stderr, /--workers <n>.*must be "auto" or an integer from 1 to 64/, `--workers ${bad}: says what is allowed`);
  }
});

t.test('--workers 2 on a TCP port in use: the first worker cannot listen, the primary stops (exit 2), no restart loop', async (t) => {
  const redis = await RedisServer.start(t);
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => taken.close(r)));
  const dir = t.testdir({});
  writeNodeDir(dir, [device('d1')], redis);
  writeFileSync(join(dir, 'c.yaml'), yaml(redis).replace('port: 0, requestTimeoutSec', `port: ${(taken.address() as AddressInfo).port}, requestTimeoutSec`));
  const run = spawnCli(['start', '-c', 'c.yaml', '--workers', '2'], { cwd: dir });
  t.teardown(() => void run.child.kill('SIGKILL'));
  const exit = await withTimeout(run.exited, WORKERS_READY_MS, 'the primary to exit');
  t.equal(exit.code, 2, 'exit 2 (runtime failure)');
  t.match(exit.stderr, /port \d+ on 127\.0\.0\.1 is already in use/, 'the worker says which port');
  const events = exit.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).map((l) => l.event);
  t.same(events.filter((e) => e === 'worker-forked').length, 1, 'one worker forked, none restarted, the second never started');
  t.ok(events.includes('worker-start-failed'), 'the primary logs that the start failed');
});

t.test('--workers 2: SIGTERM while the first worker is still starting is a graceful stop (exit 0)', async (t) => {
  const redis = await RedisServer.start(t);
  const dir = t.testdir({});
  writeNodeDir(dir, [device('d1')], redis);
  const run = spawnCli(['start', '-c', 'c.yaml', '--workers', '2'], { cwd: dir });
  t.teardown(() => void run.child.kill('SIGKILL'));
  const forked = await withTimeout(run.waitForLog((l) => l.event === 'worker-forked'), 20_000, 'worker 1 to be forked');
  run.child.kill('SIGTERM'); // before the worker has loaded the CLI, let alone its signal handlers
  const exit = await withTimeout(run.exited, 20_000, 'the primary to exit');
  t.same([exit.code, exit.signal], [0, null], `exit 0, as a single node stopped during its start\n${exit.stdout}${exit.stderr}`);
  t.notOk(alive(forked.pid as number), 'the worker is gone');
  t.notOk(exit.stdout.includes('"event":"worker-forked","worker":2'), 'worker 2 was never forked');
});

