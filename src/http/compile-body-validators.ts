import { Ajv, _, type KeywordCxt, type ValidateFunction } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { isValidUid } from '../protocol/index.js';
import { STANDALONE_CODE, standaloneModule } from '../validator-codegen.js';
import { aclSchema, requestSchema } from './body-schemas.js';

/**
 * The HTTP API's body validators as ajv compiles them; the daemon runs the build-time copy,
 * body-validators.generated.ts (validator-codegen.ts says why). `iotsUid` is a code keyword
 * calling isValidUid, imported by the generated module.
 */
export function bodyAjv(opts: { source?: boolean } = {}): Ajv {
  const ajv = new Ajv({ allErrors: false, strict: true, ...(opts.source && { code: STANDALONE_CODE }) });
  ajv.addKeyword({
    keyword: 'iotsUid',
    type: 'string',
    schemaType: 'boolean',
    code(cxt: KeywordCxt) {
      const valid = cxt.gen.scopeValue('func', { ref: isValidUid, code: _`isValidUid` });
      cxt.fail(_`${cxt.data} === "" || !${valid}(${cxt.data})`);
    },
  });
  ajv.addSchema(requestSchema, 'request');
  ajv.addSchema(aclSchema, 'acl');
  return ajv;
}

export function compileBodyValidators(): { request: ValidateFunction; acl: ValidateFunction } {
  const ajv = bodyAjv();
  return { request: ajv.getSchema('request')!, acl: ajv.getSchema('acl')! };
}

/** The text of body-validators.generated.ts. */
export function generatedBodyValidatorsSource(): string {
  const ajv = bodyAjv({ source: true });
  return standaloneModule(standalone.default(ajv, { request: 'request', acl: 'acl' }), 'src/http/body-schemas.ts', ["import { isValidUid } from '../protocol/index.js';"]);
}
