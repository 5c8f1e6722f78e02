/** Error codes of the client SDK. Stable: callers and tests branch on `err.code`, never on the text. */
export const ClientErrorCode = {
  /** Bad option or argument (key not 16 bytes, UID too long, ASCII text with non-ASCII characters...). */
  INVALID_ARG: 'ERR_IOTS_CLIENT_INVALID_ARG',
  /** The TCP connection could not be opened. */
  CONNECT: 'ERR_IOTS_CLIENT_CONNECT',
  /** The TLS handshake failed (certificate, protocol...). */
  TLS: 'ERR_IOTS_CLIENT_TLS',
  /** The concentrator answered the initiation with OK=0 (PROTOCOL §3 step 2). */
  REFUSED: 'ERR_IOTS_CLIENT_REFUSED',
  /** The concentrator redirected the client and redirects are not followed. */
  REDIRECTED: 'ERR_IOTS_CLIENT_REDIRECTED',
  /** Redirected again after following a redirect: a redirect is followed once (a second one is a loop). */
  TOO_MANY_REDIRECTS: 'ERR_IOTS_CLIENT_TOO_MANY_REDIRECTS',
  /** The concentrator answered the authentication with a byte other than 0x01. */
  AUTH_REFUSED: 'ERR_IOTS_CLIENT_AUTH_REFUSED',
  /** The handshake did not finish within `handshakeTimeoutMs`. */
  HANDSHAKE_TIMEOUT: 'ERR_IOTS_CLIENT_HANDSHAKE_TIMEOUT',
  /** No Response arrived for a Request within its timeout. */
  TIMEOUT: 'ERR_IOTS_CLIENT_TIMEOUT',
  /** The connection ended (or was never open) while the operation needed it. */
  CLOSED: 'ERR_IOTS_CLIENT_CLOSED',
  /** The peer broke the protocol. */
  PROTOCOL: 'ERR_IOTS_CLIENT_PROTOCOL',
  /** Telemetry asked for before any telemetry token was received. */
  NO_TOKEN: 'ERR_IOTS_CLIENT_NO_TOKEN',
  /** All 65 536 tracking numbers towards one destination are in flight. */
  BUSY: 'ERR_IOTS_CLIENT_BUSY',
  /** The payload is not the JSON the caller expected. */
  BAD_PAYLOAD: 'ERR_IOTS_CLIENT_BAD_PAYLOAD',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Extra facts some errors carry. */
export interface ClientErrorDetails {
  readonly cause?: unknown;
  /** REDIRECTED / TOO_MANY_REDIRECTS: where the concentrator sent the client (the last redirect). */
  readonly redirect?: { readonly host: string; readonly port: number };
  /** CLOSED: the Close code sent or received, when there was one. */
  readonly closeCode?: number;
  /** TIMEOUT: the tracking number of the request that timed out. */
  readonly tracking?: number;
}

/** Every error the SDK rejects with or emits. */
export class ClientError extends Error {
  readonly code: ClientErrorCode;
  readonly redirect: { readonly host: string; readonly port: number } | undefined;
  readonly closeCode: number | undefined;
  readonly tracking: number | undefined;

  constructor(code: ClientErrorCode, message: string, details: ClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ClientError';
    this.code = code;
    this.redirect = details.redirect;
    this.closeCode = details.closeCode;
    this.tracking = details.tracking;
  }
}

/** Wraps a socket or TLS error; ClientErrors pass through unchanged. */
export function toClientError(err: unknown, code: ClientErrorCode, what: string): ClientError {
  if (err instanceof ClientError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new ClientError(code, `${what}: ${msg}`, { cause: err });
}
