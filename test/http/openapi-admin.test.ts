import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { OPS_ROUTES } from '../../src/http/index.js';

t.test('docs/openapi-admin.yaml lists exactly the operations routes and methods the server answers', async (t) => {
  const doc = parse(readFileSync(join(import.meta.dirname, '../../docs/openapi-admin.yaml'), 'utf8'));
  t.equal(doc.openapi, '3.1.0');
  t.same(Object.keys(doc.paths).sort(), Object.keys(OPS_ROUTES).sort());
  for (const [path, methods] of Object.entries(OPS_ROUTES)) {
    const documented = Object.keys(doc.paths[path]).filter((k) => ['get', 'post', 'put', 'delete', 'patch'].includes(k));
    t.same(documented.sort(), methods.map((m) => m.toLowerCase()).sort(), path);
  }
});
