import { FORMAT_NAMES, Format, MAX_PAYLOAD_LENGTH } from './constants.js';
import type { Payload } from './payload.js';

/** PROTOCOL §8: how a payload block is written in JSON bodies (HTTP API, webhooks). */
export type JsonFormatName = 'JSON' | 'ASCII' | 'UTF8' | 'BINARY';

export const JSON_FORMAT_NAMES: readonly JsonFormatName[] = Object.freeze(['JSON', 'ASCII', 'UTF8', 'BINARY']);

export interface JsonPayload {
  readonly Format: JsonFormatName;
  readonly Payload: unknown;
}

export const JsonPayloadErrorCode = {
  /** `Format` is not one of the four names (JSON side), or the wire format nibble is unknown. */
  BAD_FORMAT: 'ERR_IOTS_BAD_FORMAT',
  /** `Payload` does not fit its `Format` (JSON side), or the bytes do not (wire side). */
  BAD_PAYLOAD: 'ERR_IOTS_BAD_PAYLOAD',
  /** More than 65 535 bytes once encoded (PROTOCOL §2). */
  TOO_LARGE: 'ERR_IOTS_PAYLOAD_TOO_LARGE',
} as const;
export type JsonPayloadErrorCode = (typeof JsonPayloadErrorCode)[keyof typeof JsonPayloadErrorCode];

/** Returned, never thrown: `field` is the JSON member at fault ("Format", "Payload", "Payload[3]"). */
export class JsonPayloadError extends Error {
  readonly code: JsonPayloadErrorCode;
  readonly field: string;
  constructor(code: JsonPayloadErrorCode, field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.name = 'JsonPayloadError';
    this.code = code;
    this.field = field;
  }
}

const FORMAT_BY_NAME: Readonly<Record<string, Format>> = Object.freeze({
  JSON: Format.JSON, ASCII: Format.ASCII, UTF8: Format.UTF8, BINARY: Format.BINARY,
});
// ignoreBOM: a leading U+FEFF is content, not a marker to strip.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const NON_ASCII = /[^\x00-\x7f]/;
const LONE_SURROGATE = /\p{Cs}/u;

/** A JSON `Format` + `Payload` pair to a payload block (options 0), or the error naming the field. */
export function payloadFromJson(format: unknown, value: unknown): Payload | JsonPayloadError {
  const f = typeof format === 'string' && Object.hasOwn(FORMAT_BY_NAME, format) ? FORMAT_BY_NAME[format]! : undefined;
  if (f === undefined) return new JsonPayloadError(JsonPayloadErrorCode.BAD_FORMAT, 'Format', `must be one of ${JSON_FORMAT_NAMES.map((n) => `"${n}"`).join(', ')}`);
  const data = encode(f, value);
  if (data instanceof JsonPayloadError) return data;
  if (data.length > MAX_PAYLOAD_LENGTH) {
    return new JsonPayloadError(JsonPayloadErrorCode.TOO_LARGE, 'Payload', `encodes to ${data.length} bytes; at most ${MAX_PAYLOAD_LENGTH} are allowed`);
  }
  return { format: f, options: 0, data };
}

function encode(f: Format, value: unknown): Buffer | JsonPayloadError {
  const bad = (problem: string, field = 'Payload') => new JsonPayloadError(JsonPayloadErrorCode.BAD_PAYLOAD, field, problem);
  switch (f) {
    case Format.JSON: {
      let text: string | undefined;
      try {
        text = JSON.stringify(value) as string | undefined;
      } catch {
        text = undefined; // BigInt, cycles: not JSON values
      }
      if (text === undefined) return bad('is required and must be a JSON value');
      return Buffer.from(text, 'utf8');
    }
    case Format.ASCII:
      if (typeof value !== 'string' || NON_ASCII.test(value)) return bad('must be a string of 7-bit ASCII characters');
      return Buffer.from(value, 'latin1');
    case Format.UTF8:
      if (typeof value !== 'string' || LONE_SURROGATE.test(value)) return bad('must be a string of well-formed Unicode text');
      return Buffer.from(value, 'utf8');
    case Format.BINARY: {
      if (!Array.isArray(value)) return bad('must be an array of integers 0-255');
      if (value.length > MAX_PAYLOAD_LENGTH) return new JsonPayloadError(JsonPayloadErrorCode.TOO_LARGE, 'Payload', `has ${value.length} bytes; at most ${MAX_PAYLOAD_LENGTH} are allowed`);
      const out = Buffer.allocUnsafe(value.length);
      for (let i = 0; i < value.length; i++) {
        const b: unknown = value[i];
        if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) return bad('must be an integer 0-255', `Payload[${i}]`);
        out[i] = b;
      }
      return out;
    }
  }
}

/**
 * A payload block to its JSON form. Fails (returned error) when the bytes do not match the
 * declared format: invalid UTF-8 (UTF8, JSON), non-ASCII (ASCII), text that is not one JSON
 * value (JSON), or a format nibble this version does not know. The options nibble is dropped.
 */
export function payloadToJson(p: Payload): JsonPayload | JsonPayloadError {
  const name = FORMAT_NAMES[p.format];
  const bad = (problem: string) => new JsonPayloadError(JsonPayloadErrorCode.BAD_PAYLOAD, 'Payload', problem);
  if (name === undefined) return new JsonPayloadError(JsonPayloadErrorCode.BAD_FORMAT, 'Format', `format 0x${p.format.toString(16)} has no JSON form`);
  if (p.data.length > MAX_PAYLOAD_LENGTH) return new JsonPayloadError(JsonPayloadErrorCode.TOO_LARGE, 'Payload', `has ${p.data.length} bytes; at most ${MAX_PAYLOAD_LENGTH} are allowed`);
  switch (p.format) {
    case Format.BINARY:
      return { Format: name, Payload: Array.from(p.data) };
    case Format.ASCII:
      for (const b of p.data) if (b > 0x7f) return bad('declared ASCII but holds bytes above 0x7F');
      return { Format: name, Payload: p.data.toString('latin1') };
    default: {
      let text: string;
      try {
        text = strictUtf8.decode(p.data);
      } catch {
        return bad(`declared ${name} but is not valid UTF-8`);
      }
      if (p.format === Format.UTF8) return { Format: name, Payload: text };
      try {
        return { Format: name, Payload: JSON.parse(text) as unknown };
      } catch {
        return bad('declared JSON but is not one valid JSON value');
      }
    }
  }
}
