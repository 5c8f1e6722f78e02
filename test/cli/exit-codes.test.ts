import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '../../src/cli/io.js';

// The README documents the exit codes once; this keeps that table and ExitCode in step.
t.test('README "Exit codes" lists each ExitCode number once, and no other', async (t) => {
  const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Exit codes'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('|')));
  const documented = [...table.matchAll(/^\| `(\d+)` \|/gm)].map((m) => Number(m[1]));
  t.same(documented, [...new Set(Object.values(ExitCode))].sort((a, b) => a - b));
  t.equal(new Set(documented).size, documented.length, 'one row per code');
  t.equal(new Set([ExitCode.USAGE, ExitCode.CONFIG, ExitCode.RUNTIME, ExitCode.NOT_OK_CODE]).size, 4, 'usage, configuration, runtime and "Code not 0" never share a number');
});
