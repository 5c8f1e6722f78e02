import t from 'tap';
import { workersRr } from '../../bench/scenarios/workers-rr.js';
import { ensureBuilt } from '../helpers/cli.js';

// Completes and reports numbers; no timing assertions (timings belong in bench/). Runs the built CLI.
t.test('one tiny workers-rr round: --workers 2 (rr and none) and the one node all answer every request', async (t) => {
  ensureBuilt();
  const lines: string[] = [];
  const rows = await workersRr({ quick: true, smoke: true, log: (m) => lines.push(m) });
  for (const name of ['workers-rr/2-workers-rr', 'workers-rr/2-workers-none']) {
    const r = rows.find((x) => x.scenario === name);
    t.ok(r && r.median > 0 && r.baseline !== null && r.baseline > 0, `${name}: a rate and the one node's baseline`);
    t.match(r?.note ?? '', /^objects on the other node than the central/, `${name}: every request answered 0x00 (no problem note)`);
  }
  t.ok(lines.some((l) => /sessions rr-1: \d+ objects.*rr-2: \d+ objects/.test(l)), 'the rr round placed objects on both workers');
});
