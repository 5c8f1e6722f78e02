import { Format, MAX_PAYLOAD_LENGTH, type Payload } from '../protocol/index.js';
import { ClientError, ClientErrorCode } from './errors.js';

/** What the SDK accepts where a payload is expected: a full payload block, or format + data. */
export type PayloadInput = Payload | { readonly format: number; readonly data: Buffer | Uint8Array; readonly options?: number };

const EMPTY = Buffer.alloc(0);

/** Each helper throws ERR_IOTS_CLIENT_INVALID_ARG over 65 535 bytes. A JSON payload (PROTOCOL §2 format 0xA): the UTF-8 text of `JSON.stringify(value)`. */
export function json(value: unknown): Payload {
  const text = JSON.stringify(value);
  if (text === undefined) throw new ClientError(ClientErrorCode.INVALID_ARG, 'value has no JSON representation');
  return make(Format.JSON, Buffer.from(text, 'utf8'));
}

/** An ASCII payload; throws ERR_IOTS_CLIENT_INVALID_ARG on a character above 0x7F. */
export function ascii(str: string): Payload {
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(str)) throw new ClientError(ClientErrorCode.INVALID_ARG, 'text is not ASCII');
  return make(Format.ASCII, Buffer.from(str, 'latin1'));
}

/** A UTF-8 text payload. */
export function utf8(str: string): Payload {
  return make(Format.UTF8, Buffer.from(str, 'utf8'));
}

/** A BINARY payload holding a copy of `bytes`. */
export function binary(bytes: Uint8Array | readonly number[] = EMPTY): Payload {
  return make(Format.BINARY, Buffer.from(bytes as Uint8Array));
}

/**
 * Parses a JSON payload. Throws ERR_IOTS_CLIENT_BAD_PAYLOAD when the format is not JSON
 * or the text is not valid JSON.
 */
export function decodePayloadJson<T = unknown>(payload: Payload): T {
  if (payload.format !== Format.JSON) {
    throw new ClientError(ClientErrorCode.BAD_PAYLOAD, `payload format is 0x${payload.format.toString(16)}, not JSON`);
  }
  try {
    return JSON.parse(payload.data.toString('utf8')) as T;
  } catch (err) {
    throw new ClientError(ClientErrorCode.BAD_PAYLOAD, 'payload is not valid JSON', { cause: err });
  }
}

function make(format: number, data: Buffer): Payload {
  return toPayload({ format, options: 0, data });
}

/** Normalises a PayloadInput to a codec Payload without copying Buffers; checks the 65 535-byte limit. */
export function toPayload(p: PayloadInput): Payload {
  if (p.data.byteLength > MAX_PAYLOAD_LENGTH) {
    throw new ClientError(ClientErrorCode.INVALID_ARG, `payload of ${p.data.byteLength} bytes over ${MAX_PAYLOAD_LENGTH}`);
  }
  const data = Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
  if ('options' in p && p.options !== undefined && data === p.data) return p as Payload;
  return { format: p.format, options: p.options ?? 0, data };
}

export const EMPTY_PAYLOAD: Payload = Object.freeze({ format: Format.BINARY, options: 0, data: EMPTY });
