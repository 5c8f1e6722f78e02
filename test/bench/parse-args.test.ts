import t from 'tap';
import { parseArgs } from '../../bench/lib/scenario.js';

t.test('the bench options', async (t) => {
  const a = parseArgs(['--quick', '--hold-sec', '150', '--object-procs', '2', 'cluster-sessions']);
  t.equal(a.quick, true);
  t.equal(a.holdSec, 150);
  t.equal(a.objectProcs, 2);
  t.same(a.names, ['cluster-sessions']);
  t.equal(parseArgs([]).holdSec, undefined, 'no hold unless asked');
});

t.test('--hold-sec refuses what is not a whole number of seconds, naming the option', async (t) => {
  for (const bad of [['--hold-sec'], ['--hold-sec', 'x'], ['--hold-sec', '-1'], ['--hold-sec', '1.5'], ['--hold-sec', '3601']]) {
    t.throws(() => parseArgs(bad), /--hold-sec: a whole number of seconds from 0 to 3600/, bad.join(' '));
  }
});
