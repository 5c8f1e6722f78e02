import t from 'tap';
import { clusterSessions } from '../../bench/scenarios/cluster-sessions.js';

// A file of its own, not in smoke.test.ts: eight daemon starts (six nodes and two reference
// nodes) take 7-14 s on a busy machine, and smoke.test.ts is already near tap's 120 s per file.
// No timing assertions (timings belong in bench/). The children run from dist/ (npm run build).
const opts = { quick: true, smoke: true, holdSec: 1, log: () => {} };

t.test('one tiny cluster-sessions run: six nodes on a real redis-server, sessions on each, a central reaching all six', async (t) => {
  const rows = await clusterSessions(opts);
  for (const n of ['cluster-sessions/established', 'cluster-sessions/ramp', 'cluster-sessions/rss-idle-node', 'cluster-sessions/requests-answered', 'cluster-sessions/wall-time']) {
    const r = rows.find((x) => x.scenario === n);
    t.ok(r && Number.isFinite(r.median) && r.median > 0, `${n} reported, positive`);
  }
  t.same(rows.find((r) => r.scenario === 'cluster-sessions/per-node')?.rounds, [10, 10, 10, 10, 10, 10], 'each node holds its share');
  t.equal(rows.find((r) => r.scenario === 'cluster-sessions/established')?.met, true, 'every session established');
  t.equal(rows.find((r) => r.scenario === 'cluster-sessions/requests-answered')?.met, true, 'the central\'s sample answered on every node');
  t.equal(rows.find((r) => r.scenario === 'cluster-sessions/answering')?.met, true, 'every session answered its Ping');
  t.equal(rows.find((r) => r.scenario === 'cluster-sessions/held-after-hold')?.median, 60, '--hold-sec: every session still held after the hold');
});
