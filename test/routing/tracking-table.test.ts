import t from 'tap';
import { TrackingTable } from '../../src/routing/tracking-table.js';

interface Item { readonly tracking: number; readonly n: number }

t.test('the same answers as a Map under random adds and deletes, through growth and wrapped probe runs', async (t) => {
  // A small deterministic generator: the same sequence every run.
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (const space of [16, 300, 65_536]) {
    const table = new TrackingTable<Item>();
    const model = new Map<number, Item>();
    let mismatches = 0;
    for (let i = 0; i < 20_000; i++) {
      const k = rand(space);
      if (model.has(k) && rand(3) > 0) {
        const gone = table.delete(k);
        if (gone !== model.get(k)) mismatches++;
        model.delete(k);
      } else if (!model.has(k)) {
        const item = { tracking: k, n: i };
        table.add(item);
        model.set(k, item);
      }
      if (table.delete(space + 1) !== undefined) mismatches++; // never added
      const probe = rand(space);
      if (table.get(probe) !== model.get(probe) || table.has(probe) !== model.has(probe)) mismatches++;
      if (table.size !== model.size) mismatches++;
    }
    for (const [k, v] of model) if (table.get(k) !== v) mismatches++;
    t.equal(mismatches, 0, `key space ${space}: every get, has, delete and size as the Map's`);
    t.same(table.values().map((x) => x.n).sort((a, b) => a - b), [...model.values()].map((x) => x.n).sort((a, b) => a - b), 'values: the entries');
    t.ok(table.capacity >= 2 * table.size, `at most half full (${table.size} in ${table.capacity})`);
  }
});

t.test('every tracking number at once, then none: all found, all removed', async (t) => {
  const table = new TrackingTable<Item>();
  for (let k = 0; k < 65_536; k++) table.add({ tracking: k, n: k });
  let missing = 0;
  for (let k = 0; k < 65_536; k++) if (table.get(k)?.n !== k) missing++;
  t.same([table.size, missing, table.capacity], [65_536, 0, 131_072]);
  for (let k = 65_535; k >= 0; k--) table.delete(k);
  t.same([table.size, table.values().length, table.get(7)], [0, 0, undefined]);
});

t.test('adds and deletes within the capacity allocate nothing: the slots array stays the same size', async (t) => {
  const table = new TrackingTable<Item>();
  for (let k = 0; k < 4; k++) table.add({ tracking: k, n: k });
  for (let i = 4; i < 100_000; i++) {
    table.delete((i - 4) & 0xffff);
    table.add({ tracking: i & 0xffff, n: i });
  }
  t.same([table.size, table.capacity], [4, 8], '4 in flight for 100 000 requests: still 8 slots');
});
