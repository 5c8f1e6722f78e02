import { randomFillSync } from 'node:crypto';
import { CHALLENGE_LENGTH } from '../protocol/index.js';

/**
 * Challenges (PROTOCOL §3 step 4) cut from a block of CSPRNG bytes: one randomFillSync per
 * `perBlock` handshakes instead of a randomBytes call each. A used block is never refilled
 * (a pending handshake still holds its challenge); a fresh one is allocated instead.
 */
export class ChallengePool {
  readonly #blockBytes: number;
  #block: Buffer;
  #offset: number;

  constructor(perBlock = 256) {
    this.#blockBytes = perBlock * CHALLENGE_LENGTH;
    this.#block = Buffer.alloc(0);
    this.#offset = this.#blockBytes;
  }

  /** 16 fresh random bytes, used once. */
  next(): Buffer {
    if (this.#offset === this.#blockBytes) {
      this.#block = randomFillSync(Buffer.allocUnsafeSlow(this.#blockBytes));
      this.#offset = 0;
    }
    const c = this.#block.subarray(this.#offset, this.#offset + CHALLENGE_LENGTH);
    this.#offset += CHALLENGE_LENGTH;
    return c;
  }
}
