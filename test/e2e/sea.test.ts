import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../../src/cli/io.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { cliFiles, deviceRequestScenario } from '../helpers/cli-daemon.js';
import { device } from '../helpers/daemon.js';
import { SEA_BINARY, ensureSeaBuilt } from '../helpers/sea.js';

// The single executable as a gateway gets it: run from a directory outside the repository, with
// no Node on PATH and no NODE_OPTIONS, so nothing but the binary itself can answer.
const SEA = [SEA_BINARY] as const;

function gatewayDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'iotsocket-sea-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
const gatewayEnv = (dir: string) => ({ PATH: dir, NODE_OPTIONS: '' });

// Built once for the file; if that fails, every test below fails with the build's output.
let buildFailure: string | undefined;
function haveBinary(t: Test): boolean {
  if (buildFailure !== undefined) t.fail('no binary to test: npm run build:sea failed (its output is in the first test)');
  return buildFailure === undefined;
}

t.test('npm run build:sea writes one executable file', async (t) => {
  let seconds: number | undefined;
  try {
    seconds = ensureSeaBuilt();
  } catch (err) {
    buildFailure = (err as Error).message;
    t.fail(buildFailure);
    return;
  }
  t.comment(seconds === undefined ? `${SEA_BINARY} is up to date` : `npm run build:sea: ${seconds.toFixed(1)} s`);
  const st = statSync(SEA_BINARY);
  t.comment(`binary: ${(st.size / 1e6).toFixed(1)} MB`);
  t.ok(st.isFile() && (st.mode & 0o111) !== 0, `${SEA_BINARY} is an executable file`);
});

t.test('the single binary prints the package version, and nothing on stderr (no SEA experimental warning)', async (t) => {
  if (!haveBinary(t)) return;
  const dir = gatewayDir(t);
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const started = performance.now();
  const run = await runCli(['--version'], { cwd: dir, command: SEA, env: gatewayEnv(dir) });
  t.comment(`iotsocket --version: ${Math.round(performance.now() - started)} ms`);
  t.same([run.code, run.stdout, run.stderr], [0, `${version}\n`, ''], 'exit 0, the version baked in at build time');
});

t.test('check-config from the binary: OK for a good config, the key and line for a bad one', async (t) => {
  if (!haveBinary(t)) return;
  const dir = gatewayDir(t);
  const files = cliFiles([device('sea-cc-1')]);
  writeFileSync(join(dir, 'c.yaml'), files['c.yaml']);
  const ok = await runCli(['check-config', '-c', 'c.yaml'], { cwd: dir, command: SEA, env: gatewayEnv(dir) });
  t.equal(ok.code, 0, `exit 0 (stderr: ${ok.stderr})`);
  t.match(ok.stdout, /config OK/);

  const badLine = (files['c.yaml'] as string).split('\n').length; // the line appended below
  writeFileSync(join(dir, 'bad.yaml'), `${files['c.yaml']}tcpp: { port: 1 }\n`);
  const bad = await runCli(['check-config', '-c', 'bad.yaml'], { cwd: dir, command: SEA, env: gatewayEnv(dir) });
  t.equal(bad.code, ExitCode.CONFIG, 'a configuration error exits with the configuration-error code');
  t.match(bad.stderr, new RegExp(`bad\\.yaml:${badLine}\\b.*tcpp`), 'names the file, the line and the unknown key (the schema validator runs in the binary)');
});

t.test('start from the binary: a device over TCP answers a POST /request; SIGTERM exits 0', async (t) => {
  if (!haveBinary(t)) return;
  const dir = gatewayDir(t);
  const exit = await deviceRequestScenario(t, { dir, command: SEA, env: gatewayEnv(dir) });
  t.equal(exit.stderr, '', 'nothing on stderr');
});
