import { AUTH_KEY_LENGTH, JSON_FORMAT_NAMES } from '../protocol/index.js';

/**
 * JSON Schemas of the HTTP API's bodies. Their validators are compiled at build time
 * (compile-body-validators.ts, as the config's: a start loads no ajv).
 */

/** A UID: `iotsUid`, a non-empty string that isValidUid accepts (code in the generated validators). */
const uid = { type: 'string', iotsUid: true };
export const requestSchema = {
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
export const aclSchema = {
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
