import { readAclEntries } from './acl-codec.js';
import { ACL_ENTRY_LENGTH, PAYLOAD_HEADER_LENGTH, TOKEN_LENGTH, ToT, UID_LENGTH } from './constants.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { readPayload } from './payload.js';
import type { Transmission } from './transmission.js';
import { readUid } from './uid.js';

/**
 * How many bytes the transmission starting at `o` takes, as far as `avail` bytes tell:
 * a positive number is either the exact total (when `exact`) or a lower bound to wait for.
 */
function measure(buf: Buffer, o: number, avail: number): { need: number; exact: boolean } | ProtocolError {
  const h = buf[o]!;
  const tot = h >> 4;
  const base = 1 + (h & 0x08 ? UID_LENGTH : 0);
  switch (tot) {
    case ToT.PING:
    case ToT.PONG: return { need: base, exact: true };
    case ToT.CLOSE: return { need: base + 1, exact: true };
    case ToT.TOKEN: return { need: base + TOKEN_LENGTH, exact: true };
    case ToT.REQUEST:
    case ToT.RESPONSE:
    case ToT.TELEMETRY: {
      const fixed = base + (tot === ToT.REQUEST ? 2 : tot === ToT.RESPONSE ? 3 : 0);
      if (avail < fixed + PAYLOAD_HEADER_LENGTH) return { need: fixed + PAYLOAD_HEADER_LENGTH, exact: false };
      return { need: fixed + PAYLOAD_HEADER_LENGTH + buf.readUInt16BE(o + fixed + 1), exact: true };
    }
    case ToT.ACL: {
      if (avail < base + 4) return { need: base + 4, exact: false };
      return { need: base + 4 + buf.readUInt32BE(o + base) * ACL_ENTRY_LENGTH, exact: true };
    }
    default:
      return new ProtocolError(ProtocolErrorCode.UNKNOWN_TOT, `unknown type of transmission 0x${tot.toString(16)}`);
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
    case ToT.REQUEST: return { type, uid, tracking: buf.readUInt16BE(p), payload: readPayload(buf, p + 2) };
    case ToT.RESPONSE:
      return { type, uid, tracking: buf.readUInt16BE(p), code: buf[p + 2]!, payload: readPayload(buf, p + 3) };
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
  #pending: Buffer[] = [];
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

  /** Parses what `chunk` completes; `out` receives each transmission in order. */
  push(chunk: Buffer, out: (t: Transmission) => void): ProtocolError | undefined {
    if (this.#failed) return this.#failed;
    let data = chunk;
    if (this.#pendingBytes > 0) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      if (this.#pendingBytes < this.#need) return undefined;
      data = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    let o = 0;
    while (o < data.length) {
      const m = measure(data, o, data.length - o);
      if (m instanceof ProtocolError) return this.#fail(m);
      if (m.exact && m.need > this.#maxBytes) {
        return this.#fail(new ProtocolError(ProtocolErrorCode.TOO_LARGE, `transmission of ${m.need} bytes over the limit of ${this.#maxBytes}`));
      }
      if (!m.exact || data.length - o < m.need) {
        this.#pending.push(data.subarray(o));
        this.#pendingBytes = data.length - o;
        this.#need = m.need;
        return undefined;
      }
      let t: Transmission;
      try {
        t = decode(data, o);
      } catch (err) {
        return this.#fail(err instanceof ProtocolError ? err : new ProtocolError(ProtocolErrorCode.BAD_VALUE, String(err)));
      }
      o += m.need;
      out(t);
      if (this.#failed) return this.#failed;
    }
    return undefined;
  }

  /** Stops parsing (e.g. when the connection is being closed). */
  reset(): void {
    this.#pending = [];
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
