import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = join(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/iotsocket.js');
const BUILT = join(ROOT, 'dist/src/cli/main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (f.endsWith('.ts')) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is missing or older than src/ (`npm test` builds first, so usually a no-op). */
export function ensureBuilt(): void {
  let builtAt = 0;
  try {
    builtAt = statSync(BUILT).mtimeMs;
  } catch {
    // not built yet
  }
  if (builtAt >= newestSource(join(ROOT, 'src'))) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}

/** The environment without IOTSOCKET_* variables, so the host's settings never leak into a test. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('IOTSOCKET_')) env[k] = v;
  return { ...env, ...extra };
}

/**
 * tap's @tapjs/processinfo puts its `--import` into NODE_OPTIONS of every process a test spawns
 * (to collect coverage, which this project does not): that doubles the CPU of a CLI start
 * (~0.45 s -> ~1 s) and the CLI would not run as a user's does. The hook reaches only the
 * process the test spawns, so a shell in between restores the test's own NODE_OPTIONS without
 * it and then `exec`s the command: same pid, so signals and the exit status are the command's.
 */
const WITHOUT_TAP_HOOKS = 'NODE_OPTIONS="$IOTS_TEST_NODE_OPTIONS"; unset IOTS_TEST_NODE_OPTIONS; [ -n "$NODE_OPTIONS" ] || unset NODE_OPTIONS; exec "$@"';

/** What to pass to spawn() to run `command` with `env` and no test-runner hooks (see above). */
export function plainSpawn(command: readonly string[], env: NodeJS.ProcessEnv): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
  const own = (env.NODE_OPTIONS ?? '').split(/\s+/).filter((o) => o !== '' && !o.includes('@tapjs/processinfo')).join(' ');
  return { file: '/bin/sh', args: ['-c', WITHOUT_TAP_HOOKS, 'sh', ...command], env: { ...env, IOTS_TEST_NODE_OPTIONS: own } };
}

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliChild {
  readonly child: ChildProcess;
  /** Resolves with the first stdout JSON log line that `match` accepts. */
  waitForLog(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  readonly exited: Promise<CliRun>;
}

export interface CliOptions {
  readonly cwd: string;
  readonly env?: Record<string, string>;
  /** What runs `iotsocket`: default this Node with bin/iotsocket.js; [SEA_BINARY] for the single executable. */
  readonly command?: readonly string[];
}

/** `node bin/iotsocket.js`, the built CLI as npm's `iotsocket` runs it. */
export const NODE_CLI: readonly string[] = [process.execPath, BIN];

export function spawnCli(args: string[], opts: CliOptions): CliChild {
  const run = plainSpawn([...(opts.command ?? NODE_CLI), ...args], cleanEnv(opts.env));
  const child = spawn(run.file, run.args, { cwd: opts.cwd, env: run.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    stdout += `${line}\n`;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const w of [...waiters]) {
      if (!w.match(obj)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(obj);
    }
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<CliRun>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    child,
    exited,
    waitForLog: (match) =>
      new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void exited.then((r) => reject(new Error(`exited (${r.code}) before the expected log line:\n${r.stdout}\n${r.stderr}`)));
      }),
  };
}

export function runCli(args: string[], opts: CliOptions): Promise<CliRun> {
  return spawnCli(args, opts).exited;
}
