/**
 * Two V8 heap snapshots compared by what their objects are: self size and count per
 * constructor (objects), per function name (closures), per kind (arrays, strings, code,
 * native and hidden objects), the difference divided by `per` (sessions held: issue 14's
 * breakdown of what one idle session holds, bench/README.md "Memory").
 *
 *   node dist/bench/lib/heap-diff.js before.heapsnapshot after.heapsnapshot per [rows] [--by-retainer]
 *
 * `--by-retainer` splits each group by its first strong retainer (edge name and holder).
 *
 * Arrays and hidden objects (a property or element backing store, a context's slots, a map's
 * table) are named after what holds them, the first retainer that is not itself one, so that a
 * Map's table counts under `Map` (its holder), not under a shared "(object elements)".
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface Group {
  readonly key: string;
  readonly count: number;
  readonly bytes: number;
}

/** Self size and count per group, for one snapshot file. */
export function groupSnapshot(path: string, byRetainer = false): Map<string, { count: number; bytes: number }> {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const nf = s.snapshot.meta.node_fields;
  const ef = s.snapshot.meta.edge_fields;
  const types = s.snapshot.meta.node_types[0];
  const edgeTypes = s.snapshot.meta.edge_types[0];
  const N = nf.length;
  const E = ef.length;
  const iType = nf.indexOf('type');
  const iName = nf.indexOf('name');
  const iSize = nf.indexOf('self_size');
  const iEdges = nf.indexOf('edge_count');
  const eType = ef.indexOf('type');
  const eTo = ef.indexOf('to_node');
  const weak = edgeTypes.indexOf('weak');
  const count = s.nodes.length / N;
  // First strong retainer of each node (by node index), to name backing stores by their holder.
  const retainer = new Int32Array(count).fill(-1);
  const retainerEdge = new Int32Array(count).fill(-1);
  const eName = ef.indexOf('name_or_index');
  let e = 0;
  for (let n = 0; n < count; n++) {
    const edges = s.nodes[n * N + iEdges]!;
    for (let k = 0; k < edges; k++, e += E) {
      if (s.edges[e + eType] === weak) continue;
      const to = s.edges[e + eTo]! / N;
      if (retainer[to] === -1 && to !== n) {
        retainer[to] = n;
        retainerEdge[to] = e;
      }
    }
  }
  const label = (n: number): string => {
    const type = types[s.nodes[n * N + iType]!]!;
    const name = s.strings[s.nodes[n * N + iName]!]!;
    if (type === 'object') return name;
    if (type === 'closure') return `closure ${name || '(anonymous)'}`;
    if (type === 'native' || type === 'synthetic') return `${type} ${name.replace(/ \/ \/.*$/, '')}`;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return '(string)';
    if (type === 'code') return '(code)';
    if (type === 'number' || type === 'bigint' || type === 'symbol' || type === 'regexp') return `(${type})`;
    return `(${type}) ${name.replace(/ \/ .*$/, '').replace(/\d+/g, '#')}`;
  };
  const groups = new Map<string, { count: number; bytes: number }>();
  for (let n = 0; n < count; n++) {
    const type = types[s.nodes[n * N + iType]!]!;
    let key = label(n);
    if (type === 'array' || type === 'hidden' || type === 'object shape') {
      // Walk up to a holder that is an object or closure (at most a few hops).
      let h = retainer[n]!;
      for (let hop = 0; hop < 4 && h >= 0; hop++) {
        const ht = types[s.nodes[h * N + iType]!]!;
        if (ht === 'object' || ht === 'closure' || ht === 'native') break;
        h = retainer[h]!;
      }
      if (h >= 0) key = `${key} of ${label(h)}`;
    }
    if (byRetainer && retainer[n]! >= 0) {
      const re = retainerEdge[n]!;
      const et = edgeTypes[s.edges[re + eType]!];
      const en = et === 'element' || et === 'hidden' ? `[${s.edges[re + eName]}]` : s.strings[s.edges[re + eName]!];
      key = `${key} <- ${et === 'element' || et === 'hidden' ? '[]' : en} of ${label(retainer[n]!)}`;
    }
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += s.nodes[n * N + iSize]!;
    groups.set(key, g);
  }
  return groups;
}

/** after − before, per `per`, largest first. */
export function diffGroups(before: Map<string, { count: number; bytes: number }>, after: Map<string, { count: number; bytes: number }>, per: number): Group[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  const out: Group[] = [];
  for (const key of keys) {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    const a = after.get(key) ?? { count: 0, bytes: 0 };
    out.push({ key, count: (a.count - b.count) / per, bytes: (a.bytes - b.bytes) / per });
  }
  return out.sort((x, y) => y.bytes - x.bytes);
}

export function formatGroups(groups: readonly Group[], rows: number): string {
  const total = groups.reduce((s, g) => s + g.bytes, 0);
  const lines = groups.slice(0, rows).filter((g) => Math.abs(g.bytes) >= 1).map((g) => `${g.bytes.toFixed(0).padStart(7)} B  ${g.count.toFixed(2).padStart(6)}×  ${g.key}`);
  return `${lines.join('\n')}\n${total.toFixed(0).padStart(7)} B  total per unit\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const byRetainer = process.argv.includes('--by-retainer');
  const [before, after, per = '1', rows = '60'] = process.argv.slice(2).filter((a) => a !== '--by-retainer');
  if (!before || !after) {
    process.stderr.write('usage: node heap-diff.js before.heapsnapshot after.heapsnapshot per [rows]\n');
    process.exit(2);
  }
  process.stdout.write(formatGroups(diffGroups(groupSnapshot(before, byRetainer), groupSnapshot(after, byRetainer), Number(per)), Number(rows)));
}
