import { IotsError } from '../errors.js';
import { FORMAT_NAMES, Format, MAX_PAYLOAD_LENGTH, type Payload } from '../protocol/index.js';

// Private stand-in for src/protocol/json-payload.ts (same names and semantics), to be
// replaced by it at merge. PROTOCOL §8: "Payload in JSON".

export type FormatName = 'JSON' | 'ASCII' | 'UTF8' | 'BINARY';

export interface JsonPayload {
  readonly Format: FormatName;
  readonly Payload: unknown;
}

/** A payload that has no JSON form, or a JSON value that is no valid payload for its format. */
export class JsonPayloadError extends IotsError {
  constructor(readonly field: string, message: string) {
    super('ERR_IOTS_JSON_PAYLOAD', message);
  }
}

const FORMAT_BY_NAME: Readonly<Record<string, number>> = Object.freeze({
  JSON: Format.JSON, ASCII: Format.ASCII, UTF8: Format.UTF8, BINARY: Format.BINARY,
});

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isAscii(data: Uint8Array): boolean {
  for (const b of data) if (b > 0x7f) return false;
  return true;
}

function decodeUtf8(data: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(data);
  } catch {
    return undefined;
  }
}

/** The JSON form of a payload block, or an error when its bytes do not fit its format. */
export function payloadToJson(payload: Payload): JsonPayload | JsonPayloadError {
  const name = FORMAT_NAMES[payload.format];
  switch (name) {
    case 'BINARY':
      return { Format: name, Payload: [...payload.data] };
    case 'ASCII':
      if (!isAscii(payload.data)) return new JsonPayloadError('Payload', 'ASCII payload holds a byte above 0x7F');
      return { Format: name, Payload: payload.data.toString('latin1') };
    case 'UTF8': {
      const text = decodeUtf8(payload.data);
      return text === undefined ? new JsonPayloadError('Payload', 'UTF8 payload is not valid UTF-8') : { Format: name, Payload: text };
    }
    case 'JSON': {
      const text = decodeUtf8(payload.data);
      if (text === undefined) return new JsonPayloadError('Payload', 'JSON payload is not valid UTF-8');
      try {
        return { Format: name, Payload: JSON.parse(text) as unknown };
      } catch {
        return new JsonPayloadError('Payload', 'JSON payload is not one valid JSON value');
      }
    }
    default:
      return new JsonPayloadError('Format', `payload format 0x${payload.format.toString(16)} has no JSON form`);
  }
}

/** The payload block for a JSON `Format` and `Payload`, or an error naming the bad field. */
export function payloadFromJson(format: unknown, value: unknown): Payload | JsonPayloadError {
  const code = typeof format === 'string' ? FORMAT_BY_NAME[format] : undefined;
  if (code === undefined) return new JsonPayloadError('Format', 'Format must be "JSON", "ASCII", "UTF8" or "BINARY"');
  const data = bytesFor(code, value);
  if (data instanceof JsonPayloadError) return data;
  if (data.length > MAX_PAYLOAD_LENGTH) return new JsonPayloadError('Payload', `Payload is ${data.length} bytes, over ${MAX_PAYLOAD_LENGTH}`);
  return { format: code, options: 0, data };
}

function bytesFor(format: number, value: unknown): Buffer | JsonPayloadError {
  switch (format) {
    case Format.JSON:
      if (value === undefined) return new JsonPayloadError('Payload', 'Payload is missing');
      return Buffer.from(JSON.stringify(value), 'utf8');
    case Format.BINARY:
      if (!Array.isArray(value) || !value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
        return new JsonPayloadError('Payload', 'BINARY Payload must be an array of integers 0-255');
      }
      return Buffer.from(value as number[]);
    case Format.ASCII:
      if (typeof value !== 'string' || !/^[\x00-\x7f]*$/.test(value)) return new JsonPayloadError('Payload', 'ASCII Payload must be a string of ASCII characters');
      return Buffer.from(value, 'latin1');
    default:
      if (typeof value !== 'string' || LONE_SURROGATE.test(value)) return new JsonPayloadError('Payload', 'UTF8 Payload must be a well-formed string');
      return Buffer.from(value, 'utf8');
  }
}
