import { timingSafeEqual } from 'node:crypto';
import { AUTH_KEY_LENGTH } from '../protocol/index.js';
import { HttpApiError } from './errors.js';

const BEARER = new RegExp(`^bearer +([0-9a-f]{${AUTH_KEY_LENGTH * 2}}) *$`, 'i');

/**
 * PROTOCOL §8: `Authorization: Bearer <central auth key in hex>`. The scheme and the hex
 * digits are case-insensitive; the key bytes are compared in constant time.
 */
export class BearerAuth {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    this.#key = Buffer.from(key);
  }

  /** Throws 401 ERR_IOTS_HTTP_UNAUTHORIZED; the message never says how close a guess was. */
  check(header: string | undefined): void {
    const m = BEARER.exec(header ?? '');
    // Equal lengths by construction: 32 hex digits are 16 bytes, the size of every auth key.
    if (m && timingSafeEqual(Buffer.from(m[1]!, 'hex'), this.#key)) return;
    throw new HttpApiError('ERR_IOTS_HTTP_UNAUTHORIZED', 'Authorization: must be "Bearer " and the central auth key in hex', {
      headers: { 'WWW-Authenticate': 'Bearer realm="iotsocket"' },
    });
  }
}
