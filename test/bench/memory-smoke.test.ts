import t from 'tap';
import { memoryRows } from '../../bench/scenarios/sessions.js';
import { scratchDir } from '../../bench/lib/scenario.js';

// The sessions scenario's memory figures (issue 14): they come out, one round each; no figure is
// judged here (timings and sizes belong in bench/). Apart from smoke.test.ts, which has all its
// file's time bound in use. The children run from dist/ (the test script builds it first).

t.test('one start of the shipped config and one ACL heap measure report positive figures', async (t) => {
  const scratch = scratchDir('memory-smoke');
  t.teardown(() => scratch.cleanup());
  const lines: string[] = [];
  const rows = await memoryRows({ quick: true, smoke: true, log: (m: string) => lines.push(m) }, scratch.dir, 1);
  for (const name of ['sessions/start-rss', 'sessions/acl-entry', 'sessions/acl-lookup']) {
    const r = rows.find((x) => x.scenario === name);
    t.ok(r && Number.isFinite(r.median) && r.median > 0, `${name} has a positive median`);
  }
  t.match(lines.join('\n'), /start: RSS .* MiB/, 'the start line is logged');
  t.match(lines.join('\n'), /acl of 20000: per entry/, 'the ACL line is logged');
});
