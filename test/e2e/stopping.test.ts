import t from 'tap';
import { spawn } from 'node:child_process';
import { cpSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { cleanEnv, ensureBuilt, ROOT, spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/until.js';

const KEY = '00112233445566778899AABBCCDDEEFF';
/** Everything absolute or inline, so `npm start` writes nothing beside the package. */
const config = (dir: string) => `central: { authKey: ${KEY} }\ntcp: { port: 0 }\nudp: { enabled: false }\nhttp: { enabled: false }\n`
  + `acl: { file: ${join(dir, 'acl.json')} }\nlog: { level: info }\n`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

// README: "npm start" runs the daemon; `kill <its pid>` stops it. npm used to run
// `sh -c "... && node ..."`, so the kill ended npm and sh and left the daemon holding its port.
t.test('kill of the `npm start` pid stops the daemon gracefully and frees its port', async (t) => {
  const dir = t.testdir({ 'c.yaml': config(t.testdirName) });
  // `npm start` builds: in a copy of the package, so this build never rewrites the dist/ that
  // other test files run at the same time.
  const pkg = join(dir, 'pkg');
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts', 'src', 'bench', 'bin']) cpSync(join(ROOT, f), join(pkg, f), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  const npm = spawn('npm', ['start', '--', '-c', join(dir, 'c.yaml')], { cwd: pkg, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let daemonPid = 0;
  t.teardown(() => { npm.kill('SIGKILL'); if (daemonPid && alive(daemonPid)) process.kill(daemonPid, 'SIGKILL'); });
  const lines: Array<Record<string, unknown>> = [];
  createInterface({ input: npm.stdout }).on('line', (l) => { try { lines.push(JSON.parse(l) as Record<string, unknown>); } catch { /* npm's own lines */ } });
  let stderr = '';
  npm.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const npmExited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
  // `npm start` builds first: allow for tsc on a loaded machine.
  await until(() => lines.some((l) => l.event === 'listening'), `the daemon to listen (stderr: ${stderr})`, 100_000);
  const started = lines.find((l) => l.event === 'listening')!;
  daemonPid = started.pid as number;
  const port = Number(String(started.tcp).split(':').pop());
  t.not(daemonPid, npm.pid, 'the daemon is a child of npm');
  t.equal(await refused(port), false, 'serving');

  npm.kill('SIGTERM');
  t.equal(await npmExited, 0, "npm exits after the daemon, with its exit code (0: graceful)");
  await until(() => !alive(daemonPid), 'the daemon process to exit', 10_000);
  t.ok(lines.some((l) => l.event === 'stopped'), 'an orderly stop (concentrator stopped)');
  t.notOk(lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('second signal')), 'not a forced one');
  t.equal(await refused(port), true, 'the port is free');
});

// Ctrl-C reaches the daemon twice under `npm start`: from the terminal (process group) and
// forwarded by npm. Both arrive while it is closing; that must not count as "stop at once".
t.test('the same signal twice at once (Ctrl-C under npm) is one graceful stop', async (t) => {
  ensureBuilt();
  const dir = t.testdir({ 'c.yaml': config(t.testdirName) });
  const run = spawnCli(['start', '-c', 'c.yaml'], { cwd: dir });
  t.teardown(() => void run.child.kill('SIGKILL'));
  const listening = await run.waitForLog((l) => l.event === 'listening');
  // A half-open client keeps the orderly close waiting, so the repeat lands mid-close.
  const sock = connect({ port: Number(String(listening.tcp).split(':').pop()), host: '127.0.0.1', allowHalfOpen: true });
  sock.on('error', () => {});
  await new Promise<void>((resolve) => sock.once('connect', resolve));
  t.teardown(() => sock.destroy());
  const closing = run.waitForLog((l) => String(l.msg).startsWith('shutting down'));
  run.child.kill('SIGINT');
  await closing;
  run.child.kill('SIGINT');
  const r = await run.exited;
  t.equal(r.code, 0, 'exit 0: graceful');
  t.notMatch(r.stdout, /second signal/);
  t.match(r.stdout, /"event":"stopped"/);
});

// The signal handlers used to be installed only after the "listening" lines were logged: a
// SIGTERM sent as soon as a supervisor read them killed the process by the signal (no Close
// 0x01, exit by SIGTERM). Now they are in place before the daemon says it listens.
t.test('SIGTERM sent the moment the daemon says it listens is a graceful stop (exit 0)', async (t) => {
  ensureBuilt();
  const results: Array<[number | null, string | null]> = [];
  const ROUNDS = 2;
  const dir = t.testdir(Object.fromEntries(Array.from({ length: ROUNDS }, (_, i) => [`c${i}.yaml`, config(join(t.testdirName, String(i)))])));
  for (let i = 0; i < ROUNDS; i++) {
    const run = spawnCli(['start', '-c', `c${i}.yaml`], { cwd: dir });
    t.teardown(() => { if (run.child.exitCode === null) run.child.kill('SIGKILL'); });
    await run.waitForLog((l) => l.event === 'listening');
    run.child.kill('SIGTERM');
    const r = await run.exited;
    results.push([r.code, r.signal]);
  }
  t.same(results, Array.from({ length: ROUNDS }, () => [0, null]), 'exit 0 every time, never killed by the signal');
});

t.test('SIGTERM during the first start (key and certificate being written) stops before listening, exit 0', async (t) => {
  ensureBuilt();
  const dir = t.testdir({
    'c.yaml': `central: { authKeyFile: ${join(t.testdirName, 'data/central.key')} }\n`
      + `tcp: { port: 0, tls: { cert: ${join(t.testdirName, 'certs/s.crt')}, key: ${join(t.testdirName, 'certs/s.key')}, generateDevCert: true } }\n`
      + `udp: { enabled: false }\nhttp: { enabled: false }\nacl: { file: ${join(t.testdirName, 'acl.json')} }\nlog: { level: info }\n`,
  });
  const run = spawnCli(['start', '-c', 'c.yaml'], { cwd: dir });
  t.teardown(() => { if (run.child.exitCode === null) run.child.kill('SIGKILL'); });
  // The certificate is generated after this line: the signal lands while the daemon is not up yet.
  await run.waitForLog((l) => String(l.msg).startsWith('generated a new central auth key'));
  run.child.kill('SIGTERM');
  const r = await run.exited;
  t.same([r.code, r.signal], [0, null], `a graceful stop, not a kill (stderr: ${r.stderr})`);
  t.match(r.stdout, /stopped before starting/);
  t.notMatch(r.stdout, /"event":"listening"/, 'it never listened');
});
