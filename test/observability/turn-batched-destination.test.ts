import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/observability/logger.js';
import { TurnBatchedDestination } from '../../src/observability/turn-batched-destination.js';

/** A sink that records each write it is handed. */
function recorder() {
  const writes: string[] = [];
  return { writes, sink: { write: (s: string) => { writes.push(s); } } };
}

const turnEnd = () => new Promise<void>((r) => setImmediate(r));

t.test("a turn's first line is written at once, the later ones together at the end of the turn, in order", async (t) => {
  const r = recorder();
  const d = new TurnBatchedDestination(r.sink);
  d.write('a\n');
  t.same(r.writes, ['a\n'], 'a line alone in its turn is written before the caller goes on');
  d.write('b\n');
  d.write('c\n');
  t.same(r.writes, ['a\n'], 'the later ones wait for the end of the turn');
  await turnEnd();
  t.same(r.writes, ['a\n', 'b\nc\n'], 'one write for them, in order');
  d.write('d\n');
  t.same(r.writes, ['a\n', 'b\nc\n', 'd\n'], 'the next turn starts again with a write at once');
  await turnEnd();
  await turnEnd();
  t.equal(r.writes.length, 3, 'an idle turn writes nothing');
});

t.test('flushSync writes at once; a large backlog does not wait for the turn to end', async (t) => {
  const r = recorder();
  const d = new TurnBatchedDestination(r.sink);
  d.write('x\n');
  d.write('z\n');
  d.flushSync();
  t.same(r.writes, ['x\n', 'z\n']);
  const line = `${'y'.repeat(1023)}\n`;
  for (let i = 0; i < 64; i++) d.write(line); // 64 KiB
  t.equal(r.writes.length, 3, 'written once 64 KiB are pending');
  t.equal(r.writes[2]!.length, 64 * 1024);
  await turnEnd();
  t.equal(r.writes.length, 3, 'nothing left for the turn end');
});

t.test('pino lines through it keep their content', async (t) => {
  const r = recorder();
  const log = createLogger({ level: 'info', destination: new TurnBatchedDestination(r.sink) });
  log.info({ event: 'session-started', uid: 'dev-"1"', kind: 'object', peer: '127.0.0.1:5000', tls: false }, 'session started');
  log.info({ event: 'session-ended', uid: 'dev-"1"', reason: 'closed' }, 'session ended');
  await turnEnd();
  t.equal(r.writes.length, 2);
  const lines = r.writes.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(lines, [
    { level: 30, event: 'session-started', uid: 'dev-"1"', kind: 'object', peer: '127.0.0.1:5000', tls: false, msg: 'session started' },
    { level: 30, event: 'session-ended', uid: 'dev-"1"', reason: 'closed', msg: 'session ended' },
  ]);
});

t.test('lines pending when the process exits are written: process.exit and an uncaught exception', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'iots-turn-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const mod = new URL('../../src/observability/turn-batched-destination.ts', import.meta.url).href;
  for (const [name, end] of [['exit', 'process.exit(3)'], ['throw', 'throw new Error("boom")']] as const) {
    const file = join(dir, `${name}.log`);
    const script = `import { pino } from 'pino'; import { TurnBatchedDestination } from '${mod}';
      const d = new TurnBatchedDestination(pino.destination({ dest: ${JSON.stringify(file)}, sync: true }));
      d.write('first\\n'); d.write('last\\n'); /* 'last' is pending: the exit writes it */ ${end};`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    t.not(r.status, 0, `${name}: the process failed as told`);
    t.equal(readFileSync(file, 'utf8'), 'first\nlast\n', `${name}: both lines written`);
  }
});
