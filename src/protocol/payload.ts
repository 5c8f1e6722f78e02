import { MAX_PAYLOAD_LENGTH, PAYLOAD_HEADER_LENGTH } from './constants.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';

/** A payload block (PROTOCOL §2): format nibble, options nibble (carried through), bytes. */
export interface Payload {
  readonly format: number;
  readonly options: number;
  readonly data: Buffer;
}

export function payloadLength(p: Payload): number {
  return PAYLOAD_HEADER_LENGTH + p.data.length;
}

export function writePayload(p: Payload, buf: Buffer, offset: number): number {
  if (p.data.length > MAX_PAYLOAD_LENGTH) {
    throw new ProtocolError(ProtocolErrorCode.TOO_LARGE, 'payload longer than 65535 bytes');
  }
  const len = p.data.length;
  buf[offset] = ((p.format & 0x0f) << 4) | (p.options & 0x0f);
  buf[offset + 1] = len >>> 8;
  buf[offset + 2] = len & 0xff;
  // TypedArray set, not Buffer copy: no argument checks in JS per payload (issue 14).
  buf.set(p.data, offset + PAYLOAD_HEADER_LENGTH);
  return offset + PAYLOAD_HEADER_LENGTH + len;
}

/** Reads a payload block whose bytes are all present; `data` is a view, not a copy. */
export function readPayload(buf: Buffer, offset: number): Payload {
  const b = buf[offset]!;
  const len = (buf[offset + 1]! << 8) | buf[offset + 2]!;
  const start = offset + PAYLOAD_HEADER_LENGTH;
  return { format: b >> 4, options: b & 0x0f, data: buf.subarray(start, start + len) };
}

export function encodePayload(p: Payload): Buffer {
  const buf = Buffer.allocUnsafe(payloadLength(p));
  writePayload(p, buf, 0);
  return buf;
}
