import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { ExitCode, type CliIo } from './io.js';

/** Prints a fresh 16-byte auth key as 32 uppercase hex digits (for the ACL or the central). */
export function runKeygen(io: CliIo): number {
  io.out(`${randomBytes(16).toString('hex').toUpperCase()}\n`);
  return ExitCode.OK;
}

export function registerKeygen(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('keygen')
    .description('print a random 16-byte auth key as 32 uppercase hex digits')
    .action(() => done(runKeygen(io)));
}
