import { type AclEntry, aclLength, writeAcl } from './acl-codec.js';
import { TOKEN_LENGTH, ToT, UID_LENGTH } from './constants.js';
import { type Payload, payloadLength, writePayload } from './payload.js';
import { writeUid } from './uid.js';

/**
 * One transmission (PROTOCOL §4). `uid` is present exactly when the RTE bit is set.
 * Header reserved bits are ignored on decode and written as 0.
 */
export type Transmission =
  | { readonly type: typeof ToT.ACL; readonly uid?: string; readonly entries: readonly AclEntry[] }
  | { readonly type: typeof ToT.PING; readonly uid?: string }
  | { readonly type: typeof ToT.PONG; readonly uid?: string }
  | { readonly type: typeof ToT.REQUEST; readonly uid?: string; readonly tracking: number; readonly payload: Payload }
  | {
      readonly type: typeof ToT.RESPONSE;
      readonly uid?: string;
      readonly tracking: number;
      readonly code: number;
      readonly payload: Payload;
    }
  | { readonly type: typeof ToT.TOKEN; readonly uid?: string; readonly token: Buffer }
  | { readonly type: typeof ToT.TELEMETRY; readonly uid?: string; readonly payload: Payload }
  | { readonly type: typeof ToT.CLOSE; readonly uid?: string; readonly code: number };

export type TransmissionOf<T extends ToT> = Extract<Transmission, { type: T }>;

function bodyLength(t: Transmission): number {
  switch (t.type) {
    case ToT.ACL: return aclLength(t.entries);
    case ToT.PING:
    case ToT.PONG: return 0;
    case ToT.REQUEST: return 2 + payloadLength(t.payload);
    case ToT.RESPONSE: return 3 + payloadLength(t.payload);
    case ToT.TOKEN: return TOKEN_LENGTH;
    case ToT.TELEMETRY: return payloadLength(t.payload);
    case ToT.CLOSE: return 1;
  }
}

/** Bytes the transmission takes on the wire. */
export function transmissionLength(t: Transmission): number {
  return 1 + (t.uid === undefined ? 0 : UID_LENGTH) + bodyLength(t);
}

/** buf.writeUInt16BE without its argument checks but with its range check (it runs twice per round trip). */
function writeTracking(n: number, buf: Buffer, o: number): void {
  if (n > 0xffff || n < 0) throw new RangeError(`tracking number out of range: ${n}`);
  buf[o] = n >>> 8;
  buf[o + 1] = n & 0xff;
}

/** Writes `t` at `offset` (which must have transmissionLength(t) bytes); returns the end offset. */
export function writeTransmission(t: Transmission, buf: Buffer, offset: number): number {
  const rte = t.uid !== undefined;
  buf[offset] = (t.type << 4) | (rte ? 0x08 : 0);
  let o = offset + 1;
  if (rte) o = writeUid(t.uid!, buf, o);
  switch (t.type) {
    case ToT.ACL: return writeAcl(t.entries, buf, o);
    case ToT.PING:
    case ToT.PONG: return o;
    case ToT.REQUEST:
      writeTracking(t.tracking, buf, o);
      return writePayload(t.payload, buf, o + 2);
    case ToT.RESPONSE:
      writeTracking(t.tracking, buf, o);
      buf[o + 2] = t.code;
      return writePayload(t.payload, buf, o + 3);
    case ToT.TOKEN:
      t.token.copy(buf, o, 0, TOKEN_LENGTH);
      return o + TOKEN_LENGTH;
    case ToT.TELEMETRY: return writePayload(t.payload, buf, o);
    case ToT.CLOSE:
      buf[o] = t.code;
      return o + 1;
  }
}

export function encodeTransmission(t: Transmission): Buffer {
  const buf = Buffer.allocUnsafe(transmissionLength(t));
  writeTransmission(t, buf, 0);
  return buf;
}

/** Encodes several transmissions into one buffer (one socket write). */
export function encodeTransmissions(ts: readonly Transmission[]): Buffer {
  let n = 0;
  for (const t of ts) n += transmissionLength(t);
  const buf = Buffer.allocUnsafe(n);
  let o = 0;
  for (const t of ts) o = writeTransmission(t, buf, o);
  return buf;
}
