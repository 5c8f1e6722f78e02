import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { AUTH_KEY_LENGTH, JSON_FORMAT_NAMES, isValidUid, type AclEntry, type JsonFormatName } from '../protocol/index.js';
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

const uid = { type: 'string', iotsUid: true };
const requestSchema = {
  type: 'object',
  required: ['UID', 'Format', 'Payload'],
  additionalProperties: false,
  properties: {
    UID: uid,
    Timeout: { type: 'number', exclusiveMinimum: 0 },
    Format: { type: 'string', enum: JSON_FORMAT_NAMES },
    Payload: {},
  },
};
const aclSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['GroupName', 'UID', 'AuthKey'],
    additionalProperties: false,
    properties: {
      GroupName: uid,
      UID: uid,
      AuthKey: { type: 'string', pattern: `^[0-9A-Fa-f]{${AUTH_KEY_LENGTH * 2}}$` },
    },
  },
};

/** What each field must be; the 400 message is `<field>: <rule>` (GUIDE: errors name the field). */
const FIELD_RULES: Readonly<Record<string, string>> = {
  UID: 'must be a non-empty string of at most 16 UTF-8 bytes',
  GroupName: 'must be a non-empty string of at most 16 UTF-8 bytes',
  Timeout: 'must be a number of seconds greater than 0',
  Format: `must be one of ${JSON_FORMAT_NAMES.map((n) => `"${n}"`).join(', ')}`,
  AuthKey: `must be ${AUTH_KEY_LENGTH * 2} hex digits`,
};

/**
 * The two body validators, compiled once per API instance (the /request path is hot).
 * Each returns the typed body or throws HttpApiError ERR_IOTS_HTTP_BAD_FIELD naming the field.
 */
export class BodyValidators {
  readonly #request: ValidateFunction;
  readonly #acl: ValidateFunction;

  constructor() {
    const ajv = new Ajv({ allErrors: false, strict: true });
    ajv.addKeyword({ keyword: 'iotsUid', type: 'string', schemaType: 'boolean', validate: (_: boolean, v: string) => v !== '' && isValidUid(v), errors: false });
    this.#request = ajv.compile(requestSchema);
    this.#acl = ajv.compile(aclSchema);
  }

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
