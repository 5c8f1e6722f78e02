import { IotsError } from '../errors.js';

/**
 * Every error the HTTP API answers with: a stable `code` (the JSON body's `error`) mapped
 * once, here, to its HTTP status. docs/openapi.yaml lists the same codes (a test checks).
 */
export const HTTP_ERROR_STATUS = Object.freeze({
  ERR_IOTS_HTTP_BAD_JSON: 400,
  ERR_IOTS_HTTP_MALFORMED: 400,
  ERR_IOTS_HTTP_BAD_FIELD: 400,
  ERR_IOTS_BAD_FORMAT: 400,
  ERR_IOTS_BAD_PAYLOAD: 400,
  ERR_IOTS_PAYLOAD_TOO_LARGE: 400,
  ERR_IOTS_ACL_REJECTED: 400,
  ERR_IOTS_HTTP_UNAUTHORIZED: 401,
  ERR_IOTS_HTTP_NOT_FOUND: 404,
  ERR_IOTS_HTTP_METHOD_NOT_ALLOWED: 405,
  ERR_IOTS_HTTP_REQUEST_TIMEOUT: 408,
  ERR_IOTS_HTTP_BODY_TOO_LARGE: 413,
  ERR_IOTS_HTTP_MEDIA_TYPE: 415,
  ERR_IOTS_HTTP_HEADERS_TOO_LARGE: 431,
  ERR_IOTS_HTTP_INTERNAL: 500,
  ERR_IOTS_RESPONSE_NOT_JSON: 502,
  ERR_IOTS_HTTP_SHUTTING_DOWN: 503,
  ERR_IOTS_HTTP_OVERLOADED: 503,
  /** A cluster node cannot reach its shared engine (Redis). */
  ERR_IOTS_HTTP_CLUSTER_UNAVAILABLE: 503,
} as const);
export type HttpErrorCode = keyof typeof HTTP_ERROR_STATUS;

/** An API error: `message` names the field or the rule; `extra` members join the JSON body. */
export class HttpApiError extends IotsError {
  override readonly code: HttpErrorCode;
  readonly status: number;
  readonly extra: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;
  constructor(code: HttpErrorCode, message: string, opts: { extra?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(code, message, { cause: opts.cause });
    this.name = 'HttpApiError';
    this.code = code;
    this.status = HTTP_ERROR_STATUS[code];
    this.extra = opts.extra ?? {};
    this.headers = opts.headers ?? {};
  }

  /** The JSON body: `{"error": code, "message": ..., ...extra}`. */
  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.extra };
  }
}

/** A cluster node cannot reach its shared engine: 503 at once, so the caller may retry (maybe at another node). */
export function clusterUnavailable(opts: { extra?: Record<string, unknown>; cause?: unknown } = {}): HttpApiError {
  return new HttpApiError('ERR_IOTS_HTTP_CLUSTER_UNAVAILABLE', 'the cluster engine (Redis) is unreachable from this node; retry later', { ...opts, headers: { 'Retry-After': '1' } });
}
