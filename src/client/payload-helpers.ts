import { Format, type Payload } from '../protocol/index.js';
import { ClientError, ClientErrorCode } from './errors.js';

/** What the SDK accepts where a payload is expected: a full payload block, or format + data. */
export type PayloadInput = Payload | { readonly format: number; readonly data: Buffer | Uint8Array; readonly options?: number };

const EMPTY = Buffer.alloc(0);

/** A JSON payload (PROTOCOL §2 format 0xA): the UTF-8 text of `JSON.stringify(value)`. */
export function json(value: unknown): Payload {
  const text = JSON.stringify(value);
  if (text === undefined) throw new ClientError(ClientErrorCode.INVALID_ARG, 'value has no JSON representation');
  return { format: Format.JSON, options: 0, data: Buffer.from(text, 'utf8') };
}

/** An ASCII payload; throws ERR_IOTS_CLIENT_INVALID_ARG on a character above 0x7F. */
export function ascii(str: string): Payload {
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(str)) throw new ClientError(ClientErrorCode.INVALID_ARG, 'text is not ASCII');
  return { format: Format.ASCII, options: 0, data: Buffer.from(str, 'latin1') };
}

/** A UTF-8 text payload. */
export function utf8(str: string): Payload {
  return { format: Format.UTF8, options: 0, data: Buffer.from(str, 'utf8') };
}

/** A BINARY payload holding a copy of `bytes`. */
export function binary(bytes: Uint8Array | readonly number[] = EMPTY): Payload {
  return { format: Format.BINARY, options: 0, data: Buffer.from(bytes as Uint8Array) };
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

/** Normalises a PayloadInput to a codec Payload without copying Buffers. */
export function toPayload(p: PayloadInput): Payload {
  const data = Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
  if ('options' in p && p.options !== undefined && data === p.data) return p as Payload;
  return { format: p.format, options: p.options ?? 0, data };
}

export const EMPTY_PAYLOAD: Payload = Object.freeze({ format: Format.BINARY, options: 0, data: EMPTY });
