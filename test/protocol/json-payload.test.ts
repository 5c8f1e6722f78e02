import t from 'tap';
import fc from 'fast-check';
import {
  Format, JsonPayloadError, JsonPayloadErrorCode, MAX_PAYLOAD_LENGTH, payloadFromJson, payloadToJson, type Payload,
} from '../../src/protocol/index.js';

const wire = (format: number, data: number[] | Buffer | string, options = 0): Payload =>
  ({ format, options, data: typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data) });

// [Format, JSON Payload, wire bytes]: checked JSON→wire, wire→JSON and JSON→wire→JSON.
const vectors: Array<[string, 'JSON' | 'ASCII' | 'UTF8' | 'BINARY', unknown, Buffer]> = [
  ['JSON object, re-serialised compactly', 'JSON', { a: [1, 2, { b: null }], s: 'é' }, Buffer.from('{"a":[1,2,{"b":null}],"s":"é"}')],
  ['JSON null', 'JSON', null, Buffer.from('null')],
  ['JSON string', 'JSON', 'x', Buffer.from('"x"')],
  ['JSON number', 'JSON', 12.5, Buffer.from('12.5')],
  ['ASCII text', 'ASCII', 'GET temp\r\n\x00', Buffer.from('GET temp\r\n\x00', 'latin1')],
  ['ASCII empty', 'ASCII', '', Buffer.alloc(0)],
  ['UTF8 text', 'UTF8', 'température 🌡', Buffer.from('température 🌡', 'utf8')],
  ['UTF8 keeps a leading BOM', 'UTF8', '\ufeffa', Buffer.from([0xef, 0xbb, 0xbf, 0x61])],
  ['UTF8 empty', 'UTF8', '', Buffer.alloc(0)],
  ['BINARY bytes', 'BINARY', [0, 1, 127, 128, 255], Buffer.from([0, 1, 127, 128, 255])],
  ['BINARY empty', 'BINARY', [], Buffer.alloc(0)],
];
const FORMAT_OF = { JSON: Format.JSON, ASCII: Format.ASCII, UTF8: Format.UTF8, BINARY: Format.BINARY } as const;

for (const [name, format, value, bytes] of vectors) {
  t.test(name, async (t) => {
    const p = payloadFromJson(format, value);
    if (p instanceof JsonPayloadError) throw p;
    t.same([p.format, p.options], [FORMAT_OF[format], 0], 'format nibble, options 0');
    t.ok(p.data.equals(bytes), 'JSON → wire bytes');
    const back = payloadToJson(wire(FORMAT_OF[format], bytes));
    t.same(back, { Format: format, Payload: value }, 'wire → JSON');
    const again = payloadFromJson(format, (back as { Payload: unknown }).Payload);
    t.ok((again as Payload).data.equals(bytes), 'JSON → wire → JSON → wire is stable');
  });
}

t.test('65 535 bytes is the limit, in every format', async (t) => {
  const max = MAX_PAYLOAD_LENGTH;
  const ok: Array<[string, unknown]> = [
    ['BINARY', new Array(max).fill(7)], ['ASCII', 'a'.repeat(max)], ['UTF8', 'é'.repeat((max - 1) / 2) + 'a'], ['JSON', 'a'.repeat(max - 2)],
  ];
  for (const [f, v] of ok) t.equal((payloadFromJson(f, v) as Payload).data.length, max, `${f}: ${max} bytes accepted`);
  const over: Array<[string, unknown]> = [
    ['BINARY', new Array(max + 1).fill(7)], ['ASCII', 'a'.repeat(max + 1)], ['UTF8', 'é'.repeat(max / 2 + 1)], ['JSON', 'a'.repeat(max - 1)],
  ];
  for (const [f, v] of over) {
    const e = payloadFromJson(f, v) as JsonPayloadError;
    t.same([e.code, e.field], [JsonPayloadErrorCode.TOO_LARGE, 'Payload'], `${f}: one byte more is refused`);
  }
  const big = payloadToJson(wire(Format.BINARY, Buffer.alloc(max, 1)));
  t.equal(((big as { Payload: number[] }).Payload).length, max, 'wire → JSON at the limit');
});

t.test('JSON → wire errors name the field', async (t) => {
  const cases: Array<[unknown, unknown, string, string]> = [
    ['XML', 'x', JsonPayloadErrorCode.BAD_FORMAT, 'Format'],
    ['json', 'x', JsonPayloadErrorCode.BAD_FORMAT, 'Format'],
    [undefined, 'x', JsonPayloadErrorCode.BAD_FORMAT, 'Format'],
    ['__proto__', 'x', JsonPayloadErrorCode.BAD_FORMAT, 'Format'],
    ['JSON', undefined, JsonPayloadErrorCode.BAD_PAYLOAD, 'Payload'],
    ['JSON', 10n, JsonPayloadErrorCode.BAD_PAYLOAD, 'Payload'],
    ['ASCII', 'café', JsonPayloadErrorCode.BAD_PAYLOAD, 'Payload'],
    ['ASCII', 3, JsonPayloadErrorCode.BAD_PAYLOAD, 'Payload'],
    ['UTF8', null, JsonPayloadErrorCode.BAD_PAYLOAD, 'Payload'],
    ['UTF8', 'a\ud800b', JsonPayloadErrorCode.BAD_PAYLOAD, 'Payload'],
    ['BINARY', 'AAEC', JsonPayloadErrorCode.BAD_PAYLOAD, 'Payload'],
    ['BINARY', [1, 256], JsonPayloadErrorCode.BAD_PAYLOAD, 'Payload[1]'],
    ['BINARY', [1, -1], JsonPayloadErrorCode.BAD_PAYLOAD, 'Payload[1]'],
    ['BINARY', [1.5], JsonPayloadErrorCode.BAD_PAYLOAD, 'Payload[0]'],
    ['BINARY', ['1'], JsonPayloadErrorCode.BAD_PAYLOAD, 'Payload[0]'],
  ];
  for (const [f, v, code, field] of cases) {
    const e = payloadFromJson(f, v);
    t.type(e, JsonPayloadError, `${String(f)} ${typeof v === 'bigint' ? 'bigint' : JSON.stringify(v)}`);
    t.same([(e as JsonPayloadError).code, (e as JsonPayloadError).field], [code, field]);
    t.match((e as JsonPayloadError).message, new RegExp(`^${field.replace(/[[\]]/g, '\\$&')}: `), 'message starts with the field');
  }
});

t.test('wire → JSON errors when the bytes cannot be shown as JSON', async (t) => {
  const cases: Array<[string, Payload, string]> = [
    ['invalid UTF-8 in UTF8', wire(Format.UTF8, [0x61, 0xc3]), JsonPayloadErrorCode.BAD_PAYLOAD],
    ['invalid UTF-8 in JSON', wire(Format.JSON, [0x22, 0xff, 0x22]), JsonPayloadErrorCode.BAD_PAYLOAD],
    ['non-ASCII in ASCII', wire(Format.ASCII, [0x61, 0x80]), JsonPayloadErrorCode.BAD_PAYLOAD],
    ['not JSON text', wire(Format.JSON, '{"a":'), JsonPayloadErrorCode.BAD_PAYLOAD],
    ['two JSON values', wire(Format.JSON, '1 2'), JsonPayloadErrorCode.BAD_PAYLOAD],
    ['empty JSON text', wire(Format.JSON, ''), JsonPayloadErrorCode.BAD_PAYLOAD],
    ['unknown format nibble', wire(0x5, 'x'), JsonPayloadErrorCode.BAD_FORMAT],
  ];
  for (const [name, p, code] of cases) t.equal((payloadToJson(p) as JsonPayloadError).code, code, name);
});

t.test('options nibble: carried as 0 from JSON, dropped toward JSON', async (t) => {
  t.same(payloadToJson(wire(Format.ASCII, 'a', 0x3)), { Format: 'ASCII', Payload: 'a' });
  t.equal((payloadFromJson('ASCII', 'a') as Payload).options, 0);
});

t.test('property: any bytes round-trip through BINARY; any well-formed string through UTF8', async () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    const j = payloadToJson(wire(Format.BINARY, Buffer.from(bytes))) as { Payload: unknown };
    return (payloadFromJson('BINARY', j.Payload) as Payload).data.equals(Buffer.from(bytes));
  }));
  fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => {
    const p = payloadFromJson('UTF8', s) as Payload;
    return (payloadToJson(p) as { Payload: unknown }).Payload === s;
  }));
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    const p = payloadFromJson('JSON', v) as Payload;
    const back = (payloadToJson(p) as { Payload: unknown }).Payload;
    return JSON.stringify(back) === JSON.stringify(v);
  }));
});
