import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { main } from '../../src/cli/main.js';
import { ExitCode, type CliIo } from '../../src/cli/io.js';
import { RuleType } from '../../src/protocol/index.js';
import { FakeConcentrator, type FakeConcentratorOptions } from '../helpers/fake-concentrator.js';
import { until } from '../helpers/until.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

async function fake(t: Test, opts: FakeConcentratorOptions = {}): Promise<FakeConcentrator> {
  const f = await FakeConcentrator.start({ keys: { 'sim-1': KEY }, ...opts });
  t.teardown(() => f.close());
  return f;
}

/** `iotsocket object` in this process; SIGTERM through `signals` stops it. */
function simulate(t: Test, port: number) {
  const out: string[] = [];
  const err: string[] = [];
  const signals = new EventEmitter();
  const io: CliIo = { out: (s) => void out.push(s), err: (s) => void err.push(s), env: {}, cwd: process.cwd(), signals: signals as unknown as CliIo['signals'], exit: () => {} };
  const exited = main(['node', 'iotsocket', 'object', '--connect', `127.0.0.1:${port}`, '--uid', 'sim-1', '--key', KEY.toString('hex')], io);
  t.teardown(async () => { signals.emit('SIGTERM'); await exited; });
  const lines = () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { exited, lines, err, stop: () => signals.emit('SIGTERM') };
}

t.test('iotsocket object follows a redirect (OK=0, ruleType 0x01, as a draining node sends) to the node it names', async (t) => {
  const target = await fake(t);
  const drained = await fake(t, { answer: () => ({ ok: false, flags: 0, rule: { type: RuleType.REDIRECT, host: '127.0.0.1', port: target.port } }) });
  const sim = simulate(t, drained.port);
  await until(() => sim.lines().some((l) => l.event === 'connected'), 'the simulator\'s "connected" line');
  t.match(sim.lines().find((l) => l.event === 'connected'), { host: '127.0.0.1', port: target.port }, 'connected where the rule said');
  t.equal((await target.accepted()).uid, 'sim-1');
  sim.stop();
  t.equal(await sim.exited, ExitCode.OK);
});

t.test('iotsocket object refuses a second redirect (a loop) with a clear message and exit 2', async (t) => {
  let port = 0;
  const loop = await fake(t, { answer: () => ({ ok: false, flags: 0, rule: { type: RuleType.REDIRECT, host: '127.0.0.1', port } }) });
  port = loop.port;
  const sim = simulate(t, loop.port);
  t.equal(await sim.exited, ExitCode.RUNTIME);
  t.match(sim.err.join(''), new RegExp(`iotsocket object: redirected again by 127\\.0\\.0\\.1:${port} to 127\\.0\\.0\\.1:${port} .*followed once`));
  t.equal(loop.initiations.length, 2, 'asked twice, never a third time');
});
