/**
 * `node dist/bench/lib/profile-summary.js FILE.cpuprofile [N]`: the top N functions by self
 * time, as a share of the non-idle time (so a daemon that waited between rounds still reads right).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export function topSelfTime(p: Profile, n: number): Array<{ fn: string; share: number }> {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let busy = 0;
  p.samples.forEach((id, i) => {
    const cf = byId.get(id)!.callFrame;
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') return;
    const where = cf.url.replace(/^file:\/\//, '').replace(/.*\/(dist|node_modules)\//, '$1/');
    const key = `${cf.functionName || '(anonymous)'} ${where ? `${where}:${cf.lineNumber + 1}` : '(native)'}`;
    const dt = p.timeDeltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + dt);
    busy += dt;
  });
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, n).map(([fn, t]) => ({ fn, share: t / busy }));
}

if (process.argv[1]?.endsWith('profile-summary.js') && process.argv[2]) {
  const rows = topSelfTime(JSON.parse(readFileSync(process.argv[2], 'utf8')) as Profile, Number(process.argv[3] ?? 20));
  for (const r of rows) process.stdout.write(`${(100 * r.share).toFixed(1).padStart(5)}%  ${r.fn}\n`);
}
