/**
 * Start RSS of two or more built trees, as `sessions/start-rss` reads it (start-rss.ts), starts
 * interleaved so load on a shared machine falls on each alike:
 *   node dist/bench/lib/start-rss-compare.js <starts> <settleMs> <tree> [<tree> …]
 * A tree is a repository checkout with dist/ built (e.g. a second worktree at the base commit).
 * Prints each tree's median and every start (MiB).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

type StartRss = typeof import('./start-rss.js');

async function main(): Promise<void> {
  const [starts, settle, ...trees] = process.argv.slice(2);
  if (!starts || !settle || trees.length === 0) throw new Error('usage: start-rss-compare <starts> <settleMs> <tree> [<tree> …]');
  const libs = await Promise.all(trees.map((t) => import(join(resolve(t), 'dist/bench/lib/start-rss.js')) as Promise<StartRss>));
  const dirs = trees.map(() => mkdtempSync(join(tmpdir(), 'iots-start-rss-')));
  try {
    libs.forEach((lib, i) => lib.prepareStartDir(dirs[i]!));
    for (let i = 0; i < libs.length; i++) await libs[i]!.startRss(dirs[i]!, 0); // bootstrap: key and certificate
    const mib: number[][] = trees.map(() => []);
    for (let k = 0; k < Number(starts); k++) {
      for (let i = 0; i < libs.length; i++) mib[i]!.push((await libs[i]!.startRss(dirs[i]!, Number(settle))) / 2 ** 20);
    }
    trees.forEach((t, i) => {
      const sorted = [...mib[i]!].sort((a, b) => a - b);
      console.log(`${t}: median ${sorted[sorted.length >> 1]!.toFixed(1)} MiB (${mib[i]!.map((x) => x.toFixed(1)).join(', ')})`);
    });
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1; });
