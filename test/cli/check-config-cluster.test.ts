import t from 'tap';
import { createServer } from 'node:net';
import { runCheckConfig } from '../../src/cli/check-config.js';
import type { CliIo } from '../../src/cli/io.js';

const KEY = '00112233445566778899AABBCCDDEEFF';

function io(cwd: string): CliIo & { printed: () => { out: string; err: string } } {
  let out = '';
  let err = '';
  return {
    out: (s) => { out += s; }, err: (s) => { err += s; },
    env: {}, cwd, signals: { on: () => process, removeListener: () => process } as unknown as CliIo['signals'],
    exit: (code) => { throw new Error(`exit(${code}) called`); },
    printed: () => ({ out, err }),
  };
}

t.test('check-config validates the cluster key and never contacts Redis', async (t) => {
  // A listener where the config says Redis is: check-config must not connect to it.
  let connections = 0;
  const redis = createServer((s) => { connections++; s.destroy(); });
  await new Promise<void>((r) => redis.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => redis.close(r)));
  const { port } = redis.address() as { port: number };
  const good = `central: { authKey: ${KEY} }\ncluster:\n  redis: redis://:pw@127.0.0.1:${port}\n  nodeId: n1\n`;
  const dir = t.testdir({ 'good.yaml': good, 'bad.yaml': `${good}  leaseSec: 2\n` });
  const ok = io(dir);
  t.equal(await runCheckConfig({ config: 'good.yaml' }, ok), 0, ok.printed().err);
  t.match(ok.printed().out, /^config OK/);
  const bad = io(dir);
  t.equal(await runCheckConfig({ config: 'bad.yaml' }, bad), 1);
  t.match(bad.printed().err, /bad\.yaml:5: cluster\.leaseSec: must be greater than cluster\.heartbeatSec \(3\)/);
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r)); // a stray loopback connect lands within a few turns
  t.equal(connections, 0, 'no connection to the Redis address');
});
