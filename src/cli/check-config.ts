import type { Command } from 'commander';
import { parseConfig } from '../config/load.js';
import { DEFAULT_CONFIG, ExitCode, printIssues, readConfigText, type CliIo } from './io.js';

/** Validates a config file without writing anything; files first start would create are warnings. */
export async function runCheckConfig(opts: { config: string }, io: CliIo): Promise<number> {
  const text = await readConfigText(opts.config, io);
  if (text === undefined) return ExitCode.CONFIG;
  const res = parseConfig(text, { file: opts.config, baseDir: io.cwd, env: io.env, mode: 'check' });
  if (res.errors.length > 0) {
    printIssues(io, res.errors, opts.config);
    return ExitCode.CONFIG;
  }
  io.out('config OK\n');
  for (const w of res.warnings) io.out(`warning: ${w}\n`);
  return ExitCode.OK;
}

export function registerCheckConfig(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('check-config')
    .description('validate a config file and report every problem with its line; writes nothing')
    .option('-c, --config <file>', 'YAML config file (relative paths inside resolve against the current directory)', DEFAULT_CONFIG)
    .action(async (opts: { config: string }) => done(await runCheckConfig(opts, io)));
}
