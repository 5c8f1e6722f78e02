import type { ErrorObject, ValidateFunction } from 'ajv';
import { AUTH_KEY_LENGTH, JSON_FORMAT_NAMES, type AclEntry, type JsonFormatName } from '../protocol/index.js';
import { acl as validateAcl, request as validateRequest } from './body-validators.generated.js';
import { HttpApiError } from './errors.js';

/** A validated POST /request body (the payload is converted afterwards). */
export interface RequestBody {
  readonly UID: string;
  readonly Timeout?: number;
  readonly Format: JsonFormatName;
  readonly Payload: unknown;
}

interface AclBodyEntry {
  readonly GroupName: string;
  readonly UID: string;
  readonly AuthKey: string;
}

/** What each field must be; the 400 message is `<field>: <rule>` (GUIDE: errors name the field). */
const FIELD_RULES: Readonly<Record<string, string>> = {
  UID: 'must be a non-empty string of at most 16 UTF-8 bytes',
  GroupName: 'must be a non-empty string of at most 16 UTF-8 bytes',
  Timeout: 'must be a number of seconds greater than 0',
  Format: `must be one of ${JSON_FORMAT_NAMES.map((n) => `"${n}"`).join(', ')}`,
  AuthKey: `must be ${AUTH_KEY_LENGTH * 2} hex digits`,
};

/**
 * The two body validators (body-schemas.ts, compiled at build time: one function each per
 * process, its `errors` read right after the call). Each returns the typed body or throws
 * HttpApiError ERR_IOTS_HTTP_BAD_FIELD naming the field.
 */
export class BodyValidators {
  readonly #request = validateRequest as unknown as ValidateFunction;
  readonly #acl = validateAcl as unknown as ValidateFunction;

  request(body: unknown): RequestBody {
    if (!this.#request(body)) throw fieldError(this.#request.errors![0]!, 'a JSON object');
    return body as RequestBody;
  }

  acl(body: unknown): AclEntry[] {
    if (!this.#acl(body)) throw fieldError(this.#acl.errors![0]!, 'a JSON array');
    return (body as AclBodyEntry[]).map((e) => ({ group: e.GroupName, uid: e.UID, key: Buffer.from(e.AuthKey, 'hex') }));
  }
}

function fieldError(e: ErrorObject, rootShape: string): HttpApiError {
  const segments = e.instancePath.split('/').slice(1);
  const path = segments.map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`)).join('').replace(/^\./, '');
  const at = (name: string) => (path ? `${path}.${name}` : name);
  let field: string;
  let rule: string;
  if (e.keyword === 'required') [field, rule] = [at(String(e.params.missingProperty)), 'is required'];
  else if (e.keyword === 'additionalProperties') [field, rule] = [at(String(e.params.additionalProperty)), 'is not a known field'];
  else if (path === '') [field, rule] = ['body', `must be ${rootShape}`];
  else if (/^\[\d+\]$/.test(path)) [field, rule] = [path, 'must be a JSON object'];
  else [field, rule] = [path, FIELD_RULES[segments[segments.length - 1]!] ?? e.message ?? 'is invalid'];
  return new HttpApiError('ERR_IOTS_HTTP_BAD_FIELD', `${field}: ${rule}`, { extra: { field } });
}
