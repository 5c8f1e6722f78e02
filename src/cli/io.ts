import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatIssue, type ConfigIssue } from '../errors.js';

/** What a subcommand may touch of the outside world; tests can pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly env: Record<string, string | undefined>;
  /** Relative paths in the config resolve against it (see config/load.ts). */
  readonly cwd: string;
  readonly signals: Pick<NodeJS.Process, 'on' | 'removeListener'>;
  exit(code: number): void;
}

export function processIo(): CliIo {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    signals: process,
    exit: (code) => process.exit(code),
  };
}

export const DEFAULT_CONFIG = 'config/concentrator.yaml';

/**
 * Every exit code of `iotsocket`, one meaning each (README "Exit codes" lists the same table):
 * 0 done; 1 a configuration error (config file, ACL file, a file they name); 2 a runtime
 * failure (port in use, daemon unreachable, HTTP error, a forced second-signal stop); 3
 * `request` was answered with a Code other than 0; 64 a usage error (bad or missing option or
 * argument, as sysexits' EX_USAGE), commander's own included.
 */
export const ExitCode = { OK: 0, CONFIG: 1, RUNTIME: 2, FORCED: 2, NOT_OK_CODE: 3, USAGE: 64 } as const;

export function printIssues(io: CliIo, issues: readonly ConfigIssue[], file: string): void {
  for (const issue of issues) io.err(`${formatIssue(issue, file)}\n`);
  io.err(`${issues.length} configuration error${issues.length === 1 ? '' : 's'} in ${file}\n`);
}

/** Set by the single-executable bundle (scripts/build-sea.mjs), which has no package.json beside it. */
declare const IOTSOCKET_BUNDLED_VERSION: string | undefined;

/** The package version, found by walking up from this file (works from src/ and dist/src/). */
export function packageVersion(): string {
  if (typeof IOTSOCKET_BUNDLED_VERSION === 'string') return IOTSOCKET_BUNDLED_VERSION;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'iotsocket-concentrator' && pkg.version) return pkg.version;
    } catch {
      // not here; keep walking up
    }
    const up = dirname(dir);
    if (up === dir) return '0.0.0-unknown';
    dir = up;
  }
}

/** The config file's text, or undefined after printing why it cannot be read (exit 1). */
export async function readConfigText(file: string, io: CliIo): Promise<string | undefined> {
  try {
    return await readFile(resolve(io.cwd, file), 'utf8');
  } catch (err) {
    io.err(`${file}: cannot read the config file: ${(err as Error).message}\n`);
    return undefined;
  }
}
