import t from 'tap';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, ensureBuilt, spawnCli } from '../helpers/cli.js';

ensureBuilt();

// Issue 14 (RSS at start): `iotsocket start` with the shipped config loads no package that
// config never uses. undici is for webhooks and the HTTP subcommands, selfsigned for a first
// start's development certificate (~13 MiB of RSS between them when loaded for nothing),
// ioredis for a cluster node only (a `cluster` key, which the shipped config has not);
// @opentelemetry/api is what prom-client's index loads for exemplars the daemon never enables
// (src/observability/prom.ts), tdigest its Summary's; ajv compiles the config and HTTP body
// validators at build time (src/validator-codegen.ts).
const NOT_AT_START = ['undici', 'selfsigned', 'ioredis', '@opentelemetry/api', 'tdigest', 'ajv'];

/** Prints, as the process exits, the packages its CommonJS loader loaded (ESM imports of CommonJS land there too). */
const LOADED_HOOK = `import { createRequire } from 'node:module';
const Module = createRequire(import.meta.url)('module');
process.on('exit', () => {
  const names = new Set(Object.keys(Module._cache).map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean));
  process.stderr.write('LOADED ' + JSON.stringify([...names]) + '\\n');
});
`;

const PORTS = { IOTSOCKET_TCP__PORT: '0', IOTSOCKET_UDP__PORT: '0', IOTSOCKET_HTTP__PORT: '0' };

async function startAndStop(dir: string, command?: string[]): Promise<string> {
  const run = spawnCli(['start', '-c', 'config/concentrator.yaml', '--no-pretty'], { cwd: dir, env: PORTS, command });
  t.teardown(() => { run.child.kill('SIGKILL'); });
  await run.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening: '));
  run.child.kill('SIGTERM');
  return (await run.exited).stderr;
}

t.test('a start with the shipped config loads none of the packages it never uses', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'iots-start-loads-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'config'), join(dir, 'config'), { recursive: true });
  await startAndStop(dir); // the first start writes the central key and the development certificate
  const hook = join(dir, 'loaded-hook.mjs');
  writeFileSync(hook, LOADED_HOOK);
  const stderr = await startAndStop(dir, [process.execPath, '--import', hook, BIN]);
  const line = /^LOADED (.*)$/m.exec(stderr);
  t.ok(line, `the hook reported ${stderr}`);
  const loaded = JSON.parse(line?.[1] ?? '[]') as string[];
  t.ok(loaded.includes('pino'), 'the hook sees the packages a start does load');
  t.same(NOT_AT_START.filter((p) => loaded.includes(p)), [], `not loaded at start (loaded: ${loaded.join(', ')})`);
});
