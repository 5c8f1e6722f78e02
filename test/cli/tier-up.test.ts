import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The built module, run without tap's TypeScript loader (as young-generation.test.ts does): the
// loader's own work would be optimized before the module could hold anything.
const MODULE = fileURLToPath(new URL('../../dist/src/cli/tier-up.js', import.meta.url));

/**
 * In a fresh process (as the launcher does), with --trace-opt: which of two hot functions V8
 * optimized while held (`duringHold`: run hot while held) and after release (`afterRelease`: first
 * run after it; `duringHold` runs hot again too).
 */
function optimized(nodeArgs: string[] = []): { held: boolean; lines: string[]; release: number } {
  const script = `
    const { holdTierUp, releaseTierUp, tierUpHeld } = await import(${JSON.stringify(MODULE)});
    holdTierUp();
    const held = tierUpHeld();
    function duringHold(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; }
    function afterRelease(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 5; return s; }
    let x = 0;
    for (let i = 0; i < 3000; i++) x += duringHold(100); // ~3 MB of bytecode run: under the held budget, 45 times V8's
    console.log('RELEASE ' + JSON.stringify({ held }));
    releaseTierUp();
    for (let i = 0; i < 30000; i++) x += duringHold(1000) + afterRelease(1000);
    console.log('END ' + x);
  `;
  // Synchronous compiles: on a loaded machine a background compile may end after the line it is
  // judged by.
  const r = spawnSync(process.execPath, [...nodeArgs, '--no-concurrent-recompilation', '--trace-opt', '--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const lines = r.stdout.split('\n').filter((l) => /completed (optimizing|compiling) .*<JSFunction (duringHold|afterRelease) /.test(l) || l.startsWith('RELEASE '));
  const release = lines.findIndex((l) => l.startsWith('RELEASE '));
  return { held: JSON.parse(lines[release]!.slice('RELEASE '.length)).held as boolean, lines, release };
}

t.test('held while starting: a hot function is not optimized; released, it and any other are', async (t) => {
  const r = optimized();
  t.ok(r.held, 'held');
  t.same(r.lines.slice(0, r.release), [], 'nothing optimized while held');
  const after = r.lines.slice(r.release + 1).join('\n');
  t.match(after, /<JSFunction duringHold /, 'the function that ran hot while held is optimized once released');
  t.match(after, /<JSFunction afterRelease /, 'a function first run after the release is optimized');
});

t.test('an operator\'s own interrupt budget is left alone', async (t) => {
  const r = optimized(['--interrupt-budget=67584']);
  t.notOk(r.held, 'not held with an --interrupt-budget flag on the command line');
  t.match(r.lines.slice(0, r.release).join('\n'), /<JSFunction duringHold /, 'V8 optimized the hot function as configured');
});
