import type { Command } from 'commander';
import { finishConfig, readConfigDraft } from '../config/load.js';
import { aclFileIssues } from './acl-file-issue.js';
import { DEFAULT_CONFIG, ExitCode, printIssues, readConfigText, type CliIo } from './io.js';

/**
 * Validates a config file, and the ACL file it names, without writing anything; files first
 * start would create are warnings.
 */
export async function runCheckConfig(opts: { config: string }, io: CliIo): Promise<number> {
  const text = await readConfigText(opts.config, io);
  if (text === undefined) return ExitCode.CONFIG;
  const first = readConfigDraft(text, { file: opts.config, baseDir: io.cwd, env: io.env });
  const done = first.draft ? finishConfig(first.draft, { mode: 'check' }) : undefined;
  const errors = [...first.errors, ...(done?.errors ?? []), ...(first.draft ? await aclFileIssues(first.draft) : [])];
  if (errors.length > 0) {
    printIssues(io, errors, opts.config);
    return ExitCode.CONFIG;
  }
  io.out('config OK\n');
  for (const w of [...first.warnings, ...(done?.warnings ?? [])]) io.out(`warning: ${w}\n`);
  return ExitCode.OK;
}

export function registerCheckConfig(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('check-config')
    .description('validate a config file and report every problem with its line; writes nothing')
    .option('-c, --config <file>', 'YAML config file (relative paths inside resolve against the current directory)', DEFAULT_CONFIG)
    .action(async (opts: { config: string }) => done(await runCheckConfig(opts, io)));
}
