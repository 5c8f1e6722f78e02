import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { device } from '../helpers/daemon.js';
import { startHttpDaemon } from '../helpers/http.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const docFiles = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
/** A metric name as the docs write it: the `iotsocket_` prefix and at least one more word (a bare prefix is not a name). */
const NAME = /\b(?:iotsocket|nodejs|process)_[a-z0-9_]*[a-z0-9]\b/g;
/** Series of a histogram or summary carry these suffixes on its family name. */
const SERIES = /_(?:bucket|sum|count)$/;

function mentioned(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of docFiles) {
    for (const name of readFileSync(join(root, file), 'utf8').match(NAME) ?? []) {
      if (name.includes('__')) continue; // an environment variable (IOTSOCKET_LOG__LEVEL, any case), not a metric
      found.set(name, [...(found.get(name) ?? []), file]);
    }
  }
  return found;
}

t.test('every metric name in README.md and docs/*.md is one a real daemon serves on /metrics, and the reverse for our own', async (t) => {
  const d = await startHttpDaemon(t, [device('m-1')]);
  const m = await d.post('/metrics', undefined, { method: 'GET', contentType: null, auth: null });
  t.equal(m.status, 200);
  const families = new Set([...m.text.matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]!));
  t.ok(families.size > 20, `/metrics lists ${families.size} families`);
  const docs = mentioned();
  t.ok(docs.size > 10, `the docs name ${docs.size} metrics`);
  for (const [name, files] of docs) {
    const family = families.has(name) ? name : name.replace(SERIES, '');
    t.ok(families.has(family), `${name} (named in ${[...new Set(files)].join(', ')}) is served on /metrics`);
  }
  // The daemon's own metrics (not prom-client's process and runtime defaults) are each documented.
  const defaults = /^iotsocket_(?:process|nodejs)_/;
  for (const family of families) {
    if (defaults.test(family)) continue;
    t.ok(docs.has(family) || [...docs.keys()].some((n) => n.replace(SERIES, '') === family), `${family} is documented`);
  }
});

t.test('no metric is written in the docs without its iotsocket_ prefix', async (t) => {
  // A backticked name with a metric's unit suffix (and maybe labels) that lacks the prefix: what a reader would copy into a query.
  const BARE = /`((?!iotsocket_)[a-z][a-z0-9]*(?:_[a-z0-9]+)*_(?:total|seconds|bytes|fds))(?:\{[^`]*\})?`/g;
  const bare: string[] = [];
  for (const file of docFiles) {
    for (const m of readFileSync(join(root, file), 'utf8').matchAll(BARE)) bare.push(`${file}: ${m[1]}`);
  }
  t.same(bare, [], 'every metric under its full name');
});
