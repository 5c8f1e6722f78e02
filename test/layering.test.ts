import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// The import direction of src/ (issue 11 §1): each part may import only the parts listed for it,
// so the layers stay separable (a cluster engine slots in behind the registry's ports, the SDK
// ships without the daemon), and no module imports itself back through a cycle.
// '.' is src/clock.ts and src/errors.ts: leaves that anything may use.
const MAY_IMPORT: Record<string, readonly string[]> = {
  '.': [],
  protocol: [],
  tls: [],
  config: ['.', 'tls', 'protocol'],
  observability: ['.', 'config', 'protocol'],
  registry: ['.', 'protocol'],
  routing: ['.', 'protocol', 'registry'],
  // The Redis engine implements the registry's ports; only the daemon picks it.
  redis: ['.', 'protocol', 'registry'],
  // The fleet layer: ports, their Redis engine and the routing it extends across nodes.
  cluster: ['.', 'protocol', 'config', 'observability', 'registry', 'redis', 'routing'],
  servers: ['.'],
  session: ['.', 'protocol', 'config', 'observability', 'registry', 'routing'],
  webhooks: ['.', 'protocol', 'config', 'observability', 'routing'],
  http: ['.', 'protocol', 'config', 'observability', 'registry', 'routing', 'servers'],
  client: ['.', 'protocol'],
  daemon: ['.', 'protocol', 'tls', 'config', 'observability', 'registry', 'redis', 'cluster', 'routing', 'servers', 'session', 'webhooks', 'http'],
  index: ['.', 'protocol', 'daemon', 'config'],
  cli: ['.', 'protocol', 'tls', 'config', 'observability', 'registry', 'client', 'daemon'],
};

const SRC = resolve(import.meta.dirname, '../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The part a file belongs to: its top directory under src/, or its name for src/daemon.ts and src/index.ts. */
function partOf(file: string): string {
  const rel = relative(SRC, file);
  const top = rel.split('/')[0]!;
  if (top !== rel) return top;
  return top === 'daemon.ts' ? 'daemon' : top === 'index.ts' ? 'index' : '.';
}

/** Relative imports of a file (static, re-exports, dynamic), resolved to .ts paths. */
function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const specs = [...src.matchAll(/(?:from\s+|import\s*\(\s*)'(\.[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

t.test('every part of src/ imports only the parts below it', async (t) => {
  const wrong: string[] = [];
  for (const [file, deps] of graph) {
    const from = partOf(file);
    const allowed = MAY_IMPORT[from];
    if (!allowed) { wrong.push(`${relative(SRC, file)}: part '${from}' has no rule in MAY_IMPORT`); continue; }
    for (const dep of deps) {
      const to = partOf(dep);
      if (to !== from && !allowed.includes(to)) wrong.push(`${relative(SRC, file)} imports ${relative(SRC, dep)} ('${from}' may not import '${to}')`);
    }
  }
  t.same(wrong, [], 'no import against the direction');
  t.ok(files.length > 50, `${files.length} files checked`);
});

t.test('the module graph of src/ has no cycle', async (t) => {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') { cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(SRC, p)).join(' -> ')); return; }
    state.set(f, 'open');
    for (const d of graph.get(f) ?? []) visit(d, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
  t.same(cycles, [], 'no cycle');
});

t.test('the checker sees a wrong import (self-test)', async (t) => {
  t.equal(partOf(join(SRC, 'config/load.ts')), 'config');
  t.equal(partOf(join(SRC, 'daemon.ts')), 'daemon');
  t.notOk(MAY_IMPORT.config!.includes('webhooks'), 'config may not import webhooks');
  t.ok(importsOf(join(SRC, 'routing/router.ts')).some((p) => p.endsWith('routing/reasons.ts')), 'imports are resolved');
});
