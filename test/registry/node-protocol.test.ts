import t from 'tap';
import { announceRange, firstIncompatible, formatRange, highestCommon, intersect, rangeOf } from '../../src/registry/node-protocol.js';

const r = (min: number, max: number) => ({ min, max });

t.test('two nodes talk the highest version both speak; none when the ranges miss each other', async (t) => {
  t.equal(highestCommon(r(1, 1), r(1, 1)), 1);
  t.equal(highestCommon(r(1, 2), r(1, 1)), 1, 'a new release talks the old version to an old node');
  t.equal(highestCommon(r(1, 2), r(1, 2)), 2, 'and the new one between new nodes');
  t.equal(highestCommon(r(1, 2), r(2, 3)), 2);
  t.equal(highestCommon(r(2, 2), r(1, 1)), undefined);
  t.equal(highestCommon(r(1, 1), r(3, 4)), undefined);
  t.same(intersect(r(1, 3), r(2, 5)), r(2, 3));
  t.equal(intersect(r(1, 1), r(2, 2)), undefined);
});

t.test('a record without a range speaks just its version; an announcement writes both', async (t) => {
  t.same(rangeOf({ protocol: 1 }), r(1, 1));
  t.same(rangeOf({ protocol: 2, protocols: r(1, 2) }), r(1, 2));
  t.same(announceRange(r(1, 2)), { protocol: 2, protocols: r(1, 2) }, 'protocol: the highest, for readers that know only it');
  t.equal(formatRange(r(1, 1)), '1');
  t.equal(formatRange(r(1, 2)), '1..2');
});

t.test('the first live node (not itself) whose range misses is the one named', async (t) => {
  const nodes = [
    { node: 'self', protocol: 3 },
    { node: 'a', protocol: 2, protocols: r(1, 2) },
    { node: 'b', protocol: 1 },
    { node: 'c', protocol: 1 },
  ];
  t.match(firstIncompatible('self', r(2, 3), nodes), { node: 'b' });
  t.equal(firstIncompatible('self', r(1, 3), nodes), undefined);
  t.equal(firstIncompatible('b', r(1, 1), [{ node: 'b', protocol: 9 }]), undefined, 'its own old record does not count');
});
