import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The built module (npm test compiles to dist/ first), run without tap's TypeScript loader: the
// loader's own allocation would grow the young generation before the module could hold it.
const MODULE = fileURLToPath(new URL('../../dist/src/cli/young-generation.js', import.meta.url));

/**
 * In a fresh process (as the launcher does): while held, a load of survivors leaves V8's young
 * generation at its initial size; once released it grows again under the same load.
 */
function newSpaceSizes(args: string[], env: Record<string, string> = {}): { held: number; released: number; heldFlag: boolean } {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    const { holdYoungGeneration, releaseYoungGeneration, youngGenerationHeld } = await import(${JSON.stringify(MODULE)});
    holdYoungGeneration();
    const heldFlag = youngGenerationHeld();
    const size = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    const survivors = () => { const keep = []; for (let i = 0; i < 300000; i++) keep.push({ i, s: 'x' + i }); return keep; };
    let keep = survivors();
    const held = size();
    releaseYoungGeneration();
    keep = [keep, survivors(), survivors()];
    console.log(JSON.stringify({ held, released: size(), heldFlag }));
  `;
  const r = spawnSync(process.execPath, [...args, '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

t.test('held while loading: the young generation stays at its initial size; released, it grows under load again', async (t) => {
  const r = newSpaceSizes([]);
  t.ok(r.heldFlag, 'held');
  t.ok(r.held <= 4 * 1024 * 1024, `held: ${r.held} bytes of new space after 300 000 survivors (V8 grows it to 32 MiB without)`);
  t.ok(r.released > r.held, `released: it grew again (${r.held} → ${r.released})`);
});

t.test('an operator\'s own semi-space flag is left alone', async (t) => {
  const r = newSpaceSizes([], { NODE_OPTIONS: '--max-semi-space-size=4' });
  t.notOk(r.heldFlag, 'not held with a semi-space flag in NODE_OPTIONS');
  t.ok(r.held > 4 * 1024 * 1024, `V8 grew it as configured (${r.held})`);
});
