import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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

/** 1 is shared by configuration errors and a forced (second-signal) stop. */
export const ExitCode = { OK: 0, CONFIG: 1, FORCED: 1, RUNTIME: 2 } as const;

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
    return await readFile(file, 'utf8');
  } catch (err) {
    io.err(`${file}: cannot read the config file: ${(err as Error).message}\n`);
    return undefined;
  }
}
