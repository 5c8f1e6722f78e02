import { MAX_PAYLOAD_LENGTH, PAYLOAD_HEADER_LENGTH, TOKEN_LENGTH } from './constants.js';
import { type Payload, readPayload, writePayload } from './payload.js';

/** UDP telemetry datagram (PROTOCOL §7): token (8 B) + payload block, exact size. */
export interface Datagram {
  readonly token: Buffer;
  readonly payload: Payload;
}

const MIN_DATAGRAM = TOKEN_LENGTH + PAYLOAD_HEADER_LENGTH;

export function encodeDatagram(token: Buffer, payload: Payload): Buffer {
  const buf = Buffer.allocUnsafe(MIN_DATAGRAM + payload.data.length);
  token.copy(buf, 0, 0, TOKEN_LENGTH);
  writePayload(payload, buf, TOKEN_LENGTH);
  return buf;
}

/** Returns undefined for a datagram whose size is not exactly 11 + payload length. */
export function decodeDatagram(buf: Buffer): Datagram | undefined {
  if (buf.length < MIN_DATAGRAM) return undefined;
  const len = buf.readUInt16BE(TOKEN_LENGTH + 1);
  if (len > MAX_PAYLOAD_LENGTH || buf.length !== MIN_DATAGRAM + len) return undefined;
  return { token: buf.subarray(0, TOKEN_LENGTH), payload: readPayload(buf, TOKEN_LENGTH) };
}
