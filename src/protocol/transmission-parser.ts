import { readAclEntries } from './acl-codec.js';
import { ACL_ENTRY_LENGTH, PAYLOAD_HEADER_LENGTH, TOKEN_LENGTH, ToT, UID_LENGTH } from './constants.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { readPayload } from './payload.js';
import type { Transmission } from './transmission.js';
import { readUid } from './uid.js';

/**
 * How many bytes the transmission starting at `o` takes, as far as `avail` bytes tell: the
 * exact total when positive, minus a lower bound to wait for when negative, 0 for an unknown
 * type. A number, not an object: this runs once per transmission (issue 14).
 */
function measure(buf: Buffer, o: number, avail: number): number {
  const h = buf[o]!;
  const tot = h >> 4;
  const base = 1 + (h & 0x08 ? UID_LENGTH : 0);
  switch (tot) {
    case ToT.PING:
    case ToT.PONG: return base;
    case ToT.CLOSE: return base + 1;
    case ToT.TOKEN: return base + TOKEN_LENGTH;
    case ToT.REQUEST:
    case ToT.RESPONSE:
    case ToT.TELEMETRY: {
      const fixed = base + (tot === ToT.REQUEST ? 2 : tot === ToT.RESPONSE ? 3 : 0);
      if (avail < fixed + PAYLOAD_HEADER_LENGTH) return -(fixed + PAYLOAD_HEADER_LENGTH);
      return fixed + PAYLOAD_HEADER_LENGTH + ((buf[o + fixed + 1]! << 8) | buf[o + fixed + 2]!);
    }
    case ToT.ACL: {
      if (avail < base + 4) return -(base + 4);
      return base + 4 + buf.readUInt32BE(o + base) * ACL_ENTRY_LENGTH;
    }
    default:
      return 0;
  }
}

/** Decodes one transmission whose `need` bytes are all present at `o`. Throws ProtocolError. */
function decode(buf: Buffer, o: number): Transmission {
  const h = buf[o]!;
  const type = h >> 4;
  let p = o + 1;
  let uid: string | undefined;
  if (h & 0x08) {
    uid = readUid(buf, p);
    p += UID_LENGTH;
  }
  switch (type) {
    case ToT.PING: return uid === undefined ? { type } : { type, uid };
    case ToT.PONG: return uid === undefined ? { type } : { type, uid };
    case ToT.CLOSE: return { type, uid, code: buf[p]! };
    case ToT.TOKEN: return { type, uid, token: Buffer.from(buf.subarray(p, p + TOKEN_LENGTH)) };
    case ToT.REQUEST: return { type, uid, tracking: (buf[p]! << 8) | buf[p + 1]!, payload: readPayload(buf, p + 2) };
    case ToT.RESPONSE:
      return { type, uid, tracking: (buf[p]! << 8) | buf[p + 1]!, code: buf[p + 2]!, payload: readPayload(buf, p + 3) };
    case ToT.TELEMETRY: return { type, uid, payload: readPayload(buf, p) };
    case ToT.ACL: return { type, uid, entries: readAclEntries(buf, p + 4, buf.readUInt32BE(p)) };
    default: throw new ProtocolError(ProtocolErrorCode.UNKNOWN_TOT, 'unknown type of transmission');
  }
}

/**
 * Streaming parser: accepts any split of the byte stream. Never throws on input; after a
 * ProtocolError it stays failed. The size limit is checked before any byte of the body is
 * buffered, so a hostile length cannot make it allocate. Payloads are views into the chunks.
 */
export class TransmissionParser {
  readonly #maxBytes: number;
  /** The reads a partial transmission spans; undefined while none waits (most of a connection's life). */
  #pending: Buffer[] | undefined;
  #pendingBytes = 0;
  #need = 0;
  #failed: ProtocolError | undefined;

  constructor(maxTransmissionBytes: number) {
    this.#maxBytes = maxTransmissionBytes;
  }

  /** True while part of a transmission is waiting for more bytes. */
  get hasPartial(): boolean {
    return this.#pendingBytes > 0;
  }

  /**
   * Parses what `chunk` completes; `out` receives each transmission in order, called on `self`
   * (so that one function can serve every parser's owner, without a closure each).
   */
  push<S = undefined>(chunk: Buffer, out: (this: S, t: Transmission) => void, self?: S): ProtocolError | undefined {
    if (this.#failed) return this.#failed;
    let data = chunk;
    if (this.#pendingBytes > 0) {
      const pending = this.#pending!;
      pending.push(chunk);
      this.#pendingBytes += chunk.length;
      if (this.#pendingBytes < this.#need) return undefined;
      data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, this.#pendingBytes);
      this.#pending = undefined;
      this.#pendingBytes = 0;
    }
    let o = 0;
    while (o < data.length) {
      const m = measure(data, o, data.length - o);
      if (m === 0) return this.#fail(new ProtocolError(ProtocolErrorCode.UNKNOWN_TOT, `unknown type of transmission 0x${(data[o]! >> 4).toString(16)}`));
      if (m > this.#maxBytes) {
        return this.#fail(new ProtocolError(ProtocolErrorCode.TOO_LARGE, `transmission of ${m} bytes over the limit of ${this.#maxBytes}`));
      }
      if (m < 0 || data.length - o < m) {
        this.#pending = [data.subarray(o)];
        this.#pendingBytes = data.length - o;
        this.#need = m < 0 ? -m : m;
        return undefined;
      }
      let t: Transmission;
      try {
        t = decode(data, o);
      } catch (err) {
        return this.#fail(err instanceof ProtocolError ? err : new ProtocolError(ProtocolErrorCode.BAD_VALUE, String(err)));
      }
      o += m;
      out.call(self as S, t);
      if (this.#failed) return this.#failed;
    }
    return undefined;
  }

  /** Stops parsing (e.g. when the connection is being closed). */
  reset(): void {
    this.#pending = undefined;
    this.#pendingBytes = 0;
  }

  #fail(err: ProtocolError): ProtocolError {
    this.#failed = err;
    this.reset();
    return err;
  }
}

/** One-shot decode of a buffer holding whole transmissions (tests, tools). */
export function decodeTransmissions(buf: Buffer, maxBytes = Number.MAX_SAFE_INTEGER): Transmission[] {
  const out: Transmission[] = [];
  const err = new TransmissionParser(maxBytes).push(buf, (t) => out.push(t));
  if (err) throw err;
  return out;
}
