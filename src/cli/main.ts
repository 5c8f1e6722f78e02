import { Command, CommanderError } from 'commander';
import { registerCheckConfig } from './check-config.js';
import { ExitCode, packageVersion, processIo, type CliIo } from './io.js';
import { registerKeygen } from './keygen.js';
import { registerStart } from './start.js';
import { registerObject } from './object.js';
import { registerRequest } from './request.js';
import { registerAcl } from './acl.js';
import { registerDrain } from './drain.js';
import { releaseYoungGeneration } from './young-generation.js';
import { releaseTierUp } from './tier-up.js';

/**
 * The `iotsocket` command. `argv` is process.argv (node, script, args...). Resolves with the
 * exit code, one of ExitCode (io.ts): commander's own errors (unknown option, missing option,
 * a bad option value) become USAGE, so no number means two things.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let code: number = ExitCode.OK;
  const done = (c: number) => { code = c; };
  const program = new Command('iotsocket')
    .description('IoTSocket v1.01 concentrator')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError()
    // `start` restores V8's young-generation growth and tier-up once it listens, every other command now.
    .hook('preAction', (_, action) => { if (action.name() !== 'start') { releaseYoungGeneration(); releaseTierUp(); } });
  registerStart(program, io, done);
  registerCheckConfig(program, io, done);
  registerKeygen(program, io, done);
  registerObject(program, io, done);
  registerRequest(program, io, done);
  registerAcl(program, io, done);
  registerDrain(program, io, done);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    // --help and --version end through here too, with exitCode 0.
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    io.err(`iotsocket: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return ExitCode.RUNTIME;
  }
  return code;
}
