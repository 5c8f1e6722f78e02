import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { HTTP_ERROR_STATUS, ROUTES } from '../../src/http/index.js';
import { BodyValidators } from '../../src/http/schemas.js';
import { JsonPayloadError, payloadFromJson } from '../../src/protocol/index.js';
import { device } from '../helpers/daemon.js';
import { startHttpDaemon } from '../helpers/http.js';

const doc = parse(readFileSync(join(import.meta.dirname, '../../docs/openapi.yaml'), 'utf8'));
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

t.test('docs/openapi.yaml is OpenAPI 3.1 and lists exactly the server\'s routes and methods', async (t) => {
  t.match(doc.openapi, /^3\.1\./);
  t.same(Object.keys(doc.paths).sort(), Object.keys(ROUTES).sort(), 'same URIs');
  for (const [path, method] of Object.entries(ROUTES)) {
    t.same(Object.keys(doc.paths[path]).filter((k) => METHODS.includes(k)), [method.toLowerCase()], `${path}: ${method} only`);
  }
});

t.test('the error schema lists every error code, and each code\'s status is documented', async (t) => {
  t.same([...doc.components.schemas.Error.properties.error.enum].sort(), Object.keys(HTTP_ERROR_STATUS).sort(), 'same codes');
  const documented = new Set<number>();
  for (const path of Object.keys(ROUTES)) for (const s of Object.keys(doc.paths[path].post.responses)) documented.add(Number(s));
  for (const [code, status] of Object.entries(HTTP_ERROR_STATUS)) t.ok(documented.has(status), `${code} → ${status} is documented`);
});

t.test('the documented examples pass the server\'s validators', async (t) => {
  const v = new BodyValidators();
  for (const [name, ex] of Object.entries<any>(doc.paths['/request'].post.requestBody.content['application/json'].examples)) {
    const body = v.request(ex.value);
    t.notOk(payloadFromJson(body.Format, body.Payload) instanceof JsonPayloadError, `/request example ${name}`);
  }
  for (const [name, ex] of Object.entries<any>(doc.paths['/acl'].post.requestBody.content['application/json'].examples)) {
    t.equal(v.acl(ex.value).length, ex.value.length, `/acl example ${name}`);
  }
});

t.test('the live server answers the documented routes and only those', async (t) => {
  const d = await startHttpDaemon(t, [device('dev-1')]);
  for (const [path, method] of Object.entries(ROUTES)) {
    t.equal((await d.post(path, {}, { auth: null, method })).status, 401, `${method} ${path} exists (auth asked)`);
    t.equal((await d.post(path, {}, { method: 'PUT' })).status, 405, `${path}: other methods 405 (GET /acl is the admin API's)`);
  }
  t.equal((await d.post('/telemetry', {})).status, 404, 'an undocumented URI is 404');
});
