import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { generatedValidatorSource } from '../../src/config/compile-validator.js';
import { configSchema } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate-config.js';
import { parseConfig } from '../../src/config/load.js';

// The daemon validates its config with code ajv generated at build time
// (config-validator.generated.ts). It must give what the validator compiled at run time with the
// original keyword functions gave: the same verdict, errors and defaults.

const GENERATED = fileURLToPath(new URL('../../src/config/config-validator.generated.ts', import.meta.url));

/** The validator as it was compiled before: ajv at run time, the custom keywords as functions. */
function runtimeValidator() {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: false });
  ajv.addKeyword({
    keyword: 'httpUrl', type: 'string', schemaType: 'boolean', error: { message: 'must be an http:// or https:// URL' },
    validate: (on: boolean, data: string) => {
      if (!on) return true;
      try {
        const u = new URL(data);
        return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
      } catch {
        return false;
      }
    },
  });
  ajv.addKeyword({
    keyword: 'maxUtf8Bytes', type: 'string', schemaType: 'number',
    error: { message: (cxt) => `must be at most ${String(cxt.schema)} bytes of UTF-8` },
    validate: (max: number, data: string) => Buffer.byteLength(data, 'utf8') <= max,
  });
  return ajv.compile(configSchema);
}

const KEY = '00112233445566778899AABBCCDDEEFF';
const CASES: string[] = [
  `central: { authKey: ${KEY} }`,
  readFileSync(fileURLToPath(new URL('../../config/concentrator.yaml', import.meta.url)), 'utf8'),
  'nope: 1\ncentral: {}',
  'central: { authKey: 123 }',
  'central: { authKey: "xyz" }',
  `central: { authKey: ${KEY}, webhooks: { request: "ftp://x", telemetry: "http://", presence: "not a url", timeoutSec: 0 } }`,
  `central: { authKey: ${KEY}, webhooks: { request: "https://central.example/r", telemetry: "http://10.0.0.1:8080/t" } }`,
  `central: { authKey: ${KEY} }\ngroups: { "": {}, "ÄÄÄÄÄÄÄÄÄ": {}, "0123456789abcdef": { telemetry: 1 }, "0123456789abcdefg": {} }`,
  `central: { authKey: ${KEY} }\ntcp: { port: 65536, host: "", tls: { cert: a }, maxConnections: 0, redirect: { host: x } }`,
  `central: { authKey: ${KEY} }\nudp: { port: 1.5, maxDatagramBytes: 10, enabled: "yes" }\nhttp: { maxBodyBytes: 0, maxHeaderBytes: 100, tls: {} }`,
  `central: { authKey: ${KEY} }\nlog: { level: loud, pretty: 1 }\nbuffers: { maxTotalBytes: -5 }\nlimits: { acceptPerSec: 0, extra: 1 }`,
  `central: { authKey: ${KEY} }\ncluster: { redis: "", inbox: other, link: { port: 70000 }, advertise: { host: "${'é'.repeat(200)}", port: 0 }, rebalance: { threshold: 1 } }`,
  `central: { authKey: ${KEY} }\ncluster: { redis: "redis://127.0.0.1:6379", nodeId: n1 }`,
  `central: { authKey: ${KEY} }\nadmin: { port: 9100, console: true, tls: { cert: c, key: k, generateDevCert: true } }`,
  `central: { authKey: ${KEY} }\ntcp: { host: "${'h'.repeat(256)}" }\nacl: { file: "" }`,
  `central: { authKey: ${KEY} }\ntcp: { host: "${'\u{1F600}'.repeat(255)}" }`, // 255 code points, 510 UTF-16 units: within maxLength
  `central: { authKey: ${KEY} }\ntcp: { host: "${'\u{1F600}'.repeat(256)}" }`,
  '[]',
  'central: []\ntcp: 5\nkeepSessionSec: -1',
];

t.test('the generated validator gives the run-time validator\'s verdict, errors and defaults', async (t) => {
  const reference = runtimeValidator();
  for (const text of CASES) {
    const a = parse(text) as unknown;
    const b = parse(text) as unknown;
    const okRef = reference(a);
    const okGen = validateConfig(b);
    t.equal(okGen, okRef, `verdict: ${text.slice(0, 60)}`);
    t.strictSame(validateConfig.errors ?? null, reference.errors ?? null, `errors: ${text.slice(0, 60)}`);
    t.same(b, a, `defaults filled alike: ${text.slice(0, 60)}`);
  }
});

t.test('the cases reach every kind of error the schema has', async (t) => {
  const reference = runtimeValidator();
  const keywords = new Set<string>();
  for (const text of CASES) if (!reference(parse(text))) for (const e of reference.errors ?? []) keywords.add(e.keyword);
  t.same([...keywords].sort(), ['additionalProperties', 'enum', 'exclusiveMinimum', 'httpUrl', 'maxLength', 'maxUtf8Bytes', 'maximum', 'minLength', 'minimum', 'pattern', 'propertyNames', 'required', 'type'].sort());
});

t.test('config errors still name the key and its line', async (t) => {
  const res = parseConfig(`central: { authKey: ${KEY} }\ntcp:\n  port: 70000\ngroups:\n  "0123456789abcdefg": {}\n`, { baseDir: '/x' });
  t.same(res.errors.map((e) => [e.path, e.line, e.message]), [
    ['tcp.port', 3, 'must be <= 65535'],
    ['groups.0123456789abcdefg', 5, 'name must be at most 16 bytes of UTF-8'],
  ]);
});

t.test('the committed generated file is what the schema generates now (npm run build rewrites it)', async (t) => {
  t.equal(readFileSync(GENERATED, 'utf8'), generatedValidatorSource());
});
