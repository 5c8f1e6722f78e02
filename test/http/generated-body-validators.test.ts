import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { isValidUid } from '../../src/protocol/index.js';
import { aclSchema, requestSchema } from '../../src/http/body-schemas.js';
import { generatedBodyValidatorsSource } from '../../src/http/compile-body-validators.js';
import { acl, request } from '../../src/http/body-validators.generated.js';
import { BodyValidators } from '../../src/http/schemas.js';

// The HTTP bodies are validated by code ajv generated at build time; it must give what the
// validators compiled at run time with the original `iotsUid` function gave.

function runtimeValidators() {
  const ajv = new Ajv({ allErrors: false, strict: true });
  ajv.addKeyword({ keyword: 'iotsUid', type: 'string', schemaType: 'boolean', validate: (_: boolean, v: string) => v !== '' && isValidUid(v), errors: false });
  return { request: ajv.compile(requestSchema), acl: ajv.compile(aclSchema) };
}

const KEY = '00112233445566778899aabbccddeeff';
const REQUESTS: unknown[] = [
  { UID: 'obj-1', Format: 'JSON', Payload: { a: 1 } },
  { UID: 'obj-1', Format: 'BINARY', Payload: 'AAEC', Timeout: 2.5 },
  { UID: '', Format: 'JSON', Payload: 1 },
  { UID: 'x'.repeat(17), Format: 'JSON', Payload: 1 },
  { UID: 'ÄÄÄÄÄÄÄÄÄ', Format: 'JSON', Payload: 1 },
  { UID: 5, Format: 'JSON', Payload: 1 },
  { UID: 'a', Format: 'XML', Payload: 1 },
  { UID: 'a', Format: 'JSON', Payload: 1, Timeout: 0 },
  { UID: 'a', Format: 'JSON' },
  { UID: 'a', Format: 'JSON', Payload: 1, extra: true },
  [], null, 'text', 42,
];
const ACLS: unknown[] = [
  [], [{ GroupName: 'Devices', UID: 'obj-1', AuthKey: KEY }],
  [{ GroupName: 'Devices', UID: 'obj-1', AuthKey: 'zz' }],
  [{ GroupName: '', UID: 'obj-1', AuthKey: KEY }],
  [{ GroupName: 'Devices', UID: 'obj-1' }],
  [{ GroupName: 'Devices', UID: 'obj-1', AuthKey: KEY, more: 1 }],
  [{ GroupName: 'Devices', UID: 'obj-1', AuthKey: KEY }, 7],
  {}, null,
];

t.test('the generated body validators give the run-time ones\' verdicts and errors', async (t) => {
  const ref = runtimeValidators();
  for (const [name, generated, cases] of [['request', request, REQUESTS], ['acl', acl, ACLS]] as const) {
    const gen = generated as unknown as ValidateFunction;
    for (const body of cases) {
      const r = ref[name];
      t.equal(gen(body), r(body), `${name} verdict: ${JSON.stringify(body)}`);
      t.strictSame(gen.errors ?? null, r.errors ?? null, `${name} errors: ${JSON.stringify(body)}`);
    }
  }
});

t.test('BodyValidators names the field as before', async (t) => {
  const v = new BodyValidators();
  t.throws(() => v.request({ UID: '', Format: 'JSON', Payload: 1 }), { code: 'ERR_IOTS_HTTP_BAD_FIELD', message: 'UID: must be a non-empty string of at most 16 UTF-8 bytes' });
  t.throws(() => v.acl([{ GroupName: 'G', UID: 'u', AuthKey: 'zz' }]), { message: '[0].AuthKey: must be 32 hex digits' });
  t.same(v.acl([{ GroupName: 'G', UID: 'u', AuthKey: KEY }]), [{ group: 'G', uid: 'u', key: Buffer.from(KEY, 'hex') }]);
});

t.test('the committed generated file is what the schemas generate now (npm run build rewrites it)', async (t) => {
  t.equal(readFileSync(fileURLToPath(new URL('../../src/http/body-validators.generated.ts', import.meta.url)), 'utf8'), generatedBodyValidatorsSource());
});
