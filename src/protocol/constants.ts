/** Wire constants of IoTSocket v1.01 (PROTOCOL §2–§4). */

export const PROTOCOL_VERSION = 0x01;

export const UID_LENGTH = 16;
export const AUTH_KEY_LENGTH = 16;
export const CHALLENGE_LENGTH = 16;
export const MAC_LENGTH = 32;
export const TOKEN_LENGTH = 8;
export const INITIATION_LENGTH = 4;
export const AUTH_ANSWER_LENGTH = UID_LENGTH + MAC_LENGTH;
export const PAYLOAD_HEADER_LENGTH = 3;
export const MAX_PAYLOAD_LENGTH = 0xffff;
export const ACL_ENTRY_LENGTH = UID_LENGTH * 2 + AUTH_KEY_LENGTH;
/** The central authenticates with the empty UID (16 × 0x00). */
export const CENTRAL_UID = '';

/** Type of transmission: the high nibble of the header byte. */
export const ToT = {
  ACL: 0x0,
  PING: 0x1,
  PONG: 0x2,
  REQUEST: 0x3,
  RESPONSE: 0x4,
  TOKEN: 0x5,
  TELEMETRY: 0x6,
  CLOSE: 0xf,
} as const;
export type ToT = (typeof ToT)[keyof typeof ToT];

export const TOT_NAMES: Readonly<Record<number, string>> = Object.freeze({
  [ToT.ACL]: 'acl',
  [ToT.PING]: 'ping',
  [ToT.PONG]: 'pong',
  [ToT.REQUEST]: 'request',
  [ToT.RESPONSE]: 'response',
  [ToT.TOKEN]: 'token',
  [ToT.TELEMETRY]: 'telemetry',
  [ToT.CLOSE]: 'close',
});

export const ResponseCode = {
  VALID: 0x00,
  NOT_VALID: 0x01,
  NOT_FOUND: 0xa0,
  TIMEOUT: 0xa1,
  IN_PROGRESS: 0xa2,
} as const;
export type ResponseCode = (typeof ResponseCode)[keyof typeof ResponseCode];

export const CloseCode = {
  PROTOCOL_ERROR: 0x00,
  MAINTENANCE: 0x01,
  TOO_MANY: 0x02,
  INTERNAL_ERROR: 0x03,
  SLEEP: 0xa0,
  FREEING_RESOURCES: 0xa1,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** PROTOCOL §6: only these close codes keep the session. */
export function closeKeepsSession(code: number): boolean {
  return code === CloseCode.SLEEP || code === CloseCode.FREEING_RESOURCES;
}

export const Format = {
  BINARY: 0x0,
  ASCII: 0x1,
  UTF8: 0x2,
  JSON: 0xa,
} as const;
export type Format = (typeof Format)[keyof typeof Format];

export const FORMAT_NAMES = Object.freeze({
  [Format.BINARY]: 'BINARY',
  [Format.ASCII]: 'ASCII',
  [Format.UTF8]: 'UTF8',
  [Format.JSON]: 'JSON',
} as Record<number, 'BINARY' | 'ASCII' | 'UTF8' | 'JSON'>);

export const RuleType = { NONE: 0x00, REDIRECT: 0x01 } as const;
export type RuleType = (typeof RuleType)[keyof typeof RuleType];
