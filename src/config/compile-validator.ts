import { Ajv, _, str, type KeywordCxt, type ValidateFunction } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { STANDALONE_CODE, standaloneModule } from '../validator-codegen.js';
import { configSchema, type RawConfig } from './schema.js';

/**
 * The config validator as ajv compiles it. The daemon runs the build-time copy,
 * config-validator.generated.ts (validator-codegen.ts says why); tests compare the two.
 *
 * The two custom keywords are code keywords (standalone code cannot reference a function
 * given to ajv at run time): the checks are written into the generated validator.
 */
export function compileConfigValidator(): ValidateFunction<RawConfig> {
  return configAjv().compile<RawConfig>(configSchema);
}

/** The ajv instance with the config's options and keywords; `source` keeps the generated code (for standalone output). */
export function configAjv(opts: { source?: boolean } = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true, useDefaults: true, strict: true, allowUnionTypes: false,
    ...(opts.source && { code: STANDALONE_CODE }),
  });
  ajv.addKeyword({
    keyword: 'httpUrl',
    type: 'string',
    schemaType: 'boolean',
    error: { message: 'must be an http:// or https:// URL' },
    // An absolute http: or https: URL with a host name.
    code(cxt: KeywordCxt) {
      if (cxt.schema !== true) return;
      cxt.fail(_`!((v) => { try { const u = new URL(v); return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== ""; } catch { return false; } })(${cxt.data})`);
    },
  });
  ajv.addKeyword({
    keyword: 'maxUtf8Bytes',
    type: 'string',
    schemaType: 'number',
    error: { message: ({ schema }) => str`must be at most ${schema as number} bytes of UTF-8` },
    code(cxt: KeywordCxt) {
      cxt.fail(_`Buffer.byteLength(${cxt.data}, "utf8") > ${cxt.schema as number}`);
    },
  });
  return ajv;
}

/** The text of config-validator.generated.ts: ajv's standalone code for the config schema. */
export function generatedValidatorSource(): string {
  const ajv = configAjv({ source: true });
  return standaloneModule(standalone.default(ajv, ajv.compile<RawConfig>(configSchema)), 'src/config/schema.ts');
}
