/** Codec errors: returned (never thrown) by the streaming parser, thrown by one-shot decoders. */

export const ProtocolErrorCode = {
  UNKNOWN_TOT: 'ERR_IOTS_UNKNOWN_TOT',
  TOO_LARGE: 'ERR_IOTS_TOO_LARGE',
  BAD_UID: 'ERR_IOTS_BAD_UID',
  BAD_LENGTH: 'ERR_IOTS_BAD_LENGTH',
  BAD_VALUE: 'ERR_IOTS_BAD_VALUE',
  /** Not a codec finding: a transmission started but did not complete in time (slowloris). */
  INCOMPLETE_TIMEOUT: 'ERR_IOTS_INCOMPLETE_TIMEOUT',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}
