import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { choosePretty } from '../../src/observability/logger.js';
import { BIN, cleanEnv, ensureBuilt, plainSpawn } from '../helpers/cli.js';

const CONFIG = 'tcp: { port: 0 }\nudp: { enabled: false }\nhttp: { enabled: false }\ncentral: { authKey: 00112233445566778899AABBCCDDEEFF }\n';

/** Runs `iotsocket start` (stdout a pipe, not a terminal) until its "concentrator started" line; returns the lines so far. */
async function startLines(t: Test, args: string[], yaml = CONFIG): Promise<string[]> {
  const dir = t.testdir({ 'c.yaml': yaml });
  const run = plainSpawn([process.execPath, BIN, 'start', '-c', 'c.yaml', ...args], cleanEnv());
  const child = spawn(run.file, run.args, { cwd: dir, env: run.env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  const lines: string[] = [];
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "concentrator started" line within 20 s:\n${lines.join('\n')}\n${stderr}`)), 20_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (line.includes('concentrator started')) { clearTimeout(timer); resolve(); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited (${code}) before starting:\n${lines.join('\n')}\n${stderr}`)); });
  });
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  return lines;
}

const isJson = (line: string) => { try { return typeof JSON.parse(line) === 'object'; } catch { return false; } };
// pino-pretty, one line each: "[2026-12-01 21:50:00.123] INFO: concentrator started {…fields…}"
const PRETTY = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR|DEBUG): \S/;

t.before(() => ensureBuilt());

t.test('iotsocket start --pretty prints human-readable lines, one per entry', async (t) => {
  const lines = await startLines(t, ['--pretty']);
  const started = lines.find((l) => l.includes('concentrator started'))!;
  t.match(started, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: concentrator started /);
  t.ok(lines.every((l) => PRETTY.test(l)), `every line pretty:\n${lines.join('\n')}`);
  t.notOk(lines.some(isJson), 'no JSON line');
});

t.test('without --pretty, stdout not a terminal: JSON lines as before', async (t) => {
  const lines = await startLines(t, []);
  t.ok(lines.length > 0 && lines.every(isJson), `every line JSON:\n${lines.join('\n')}`);
  t.match(JSON.parse(lines.find((l) => l.includes('concentrator started'))!), { level: 30, msg: 'concentrator started', event: 'listening' });
});

t.test('log.pretty: true in the file turns it on; --no-pretty wins over it', async (t) => {
  const yaml = `${CONFIG}log: { pretty: true }\n`;
  t.ok((await startLines(t, [], yaml)).every((l) => PRETTY.test(l)), 'log.pretty: true');
  t.ok((await startLines(t, ['--no-pretty'], yaml)).every(isJson), '--no-pretty');
});

t.test('choosePretty: flag, then the config key, then whether stdout is a terminal', async (t) => {
  t.equal(choosePretty(undefined, undefined, true), true, 'a terminal: pretty by default');
  t.equal(choosePretty(undefined, undefined, false), false, 'a pipe: JSON by default');
  t.equal(choosePretty(false, true, true), false);
  t.equal(choosePretty(true, false, false), true);
  t.equal(choosePretty(undefined, false, true), false);
});

t.test('pretty lines are redacted like JSON ones', async (t) => {
  const { createLogger } = await import('../../src/observability/logger.js');
  const { prettyStream } = await import('../../src/observability/pretty-stream.js');
  const { PassThrough } = await import('node:stream');
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (c: Buffer) => (text += c.toString()));
  const log = createLogger({ level: 'info', destination: prettyStream(sink) });
  log.info({ event: 'x', authKey: 'deadbeefdeadbeefdeadbeefdeadbeef', headers: { authorization: 'Bearer 00' } }, 'hello');
  log.flush();
  await new Promise((r) => setImmediate(r));
  t.match(text, /INFO: hello /);
  t.notOk(text.includes('deadbeef'), 'key redacted');
  t.notOk(text.includes('Bearer 00'), 'Authorization redacted');
  t.match(text, /\[redacted\]/);
});
