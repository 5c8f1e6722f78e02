import t from 'tap';
import fc from 'fast-check';
import {
  CloseCode, Format, ProtocolErrorCode, ResponseCode, ToT, TransmissionParser,
  decodeTransmissions, encodeTransmission, encodeTransmissions, type Transmission,
} from '../../src/protocol/index.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const uid16 = (text: string) => Buffer.concat([Buffer.alloc(16 - Buffer.byteLength(text)), Buffer.from(text)]).toString('hex');
const payload = (format: number, data: string | number[]) => ({ format, options: 0, data: Buffer.from(data as string) });

// Golden vectors, written out by hand from PROTOCOL §2 and §4.
const golden: Array<[string, Transmission, string]> = [
  ['ping', { type: ToT.PING }, '10'],
  ['pong', { type: ToT.PONG }, '20'],
  ['close maintenance', { type: ToT.CLOSE, code: CloseCode.MAINTENANCE }, 'f0 01'],
  ['close sleep', { type: ToT.CLOSE, code: CloseCode.SLEEP }, 'f0 a0'],
  ['token', { type: ToT.TOKEN, token: hex('0102030405060708') }, '50 0102030405060708'],
  ['object request', { type: ToT.REQUEST, tracking: 0x1234, payload: payload(Format.ASCII, 'hi') }, '30 1234 10 0002 6869'],
  ['central request', { type: ToT.REQUEST, uid: 'dev-1', tracking: 7, payload: payload(Format.JSON, '{}') },
    `38 ${uid16('dev-1')} 0007 a0 0002 7b7d`],
  ['response', { type: ToT.RESPONSE, tracking: 0xffff, code: ResponseCode.TIMEOUT, payload: payload(Format.BINARY, []) },
    '40 ffff a1 00 0000'],
  ['routed response', { type: ToT.RESPONSE, uid: 'é', tracking: 1, code: 0, payload: payload(Format.UTF8, 'ü') },
    `48 ${uid16('é')} 0001 00 20 0002 c3bc`],
  ['telemetry', { type: ToT.TELEMETRY, uid: 'sensor', payload: payload(Format.BINARY, [1, 2, 3]) },
    `68 ${uid16('sensor')} 00 0003 010203`],
  ['payload options carried', { type: ToT.REQUEST, tracking: 1, payload: { format: 2, options: 5, data: Buffer.from('a') } },
    '30 0001 25 0001 61'],
  ['acl', { type: ToT.ACL, entries: [{ group: 'G', uid: 'U', key: hex('00112233445566778899aabbccddeeff') }] },
    `00 00000001 ${uid16('G')} ${uid16('U')} 00112233445566778899aabbccddeeff`],
  ['empty acl', { type: ToT.ACL, entries: [] }, '00 00000000'],
];

for (const [name, value, wire] of golden) {
  t.test(`golden: ${name}`, async (t) => {
    t.same(encodeTransmission(value).toString('hex'), hex(wire).toString('hex'), 'encodes');
    t.same(norm(decodeTransmissions(hex(wire))), norm([value]), 'parses');
    t.same(norm(decodeTransmissions(encodeTransmission(value))), norm([value]), 'encode then parse');
  });
}

// Makes parsed values comparable with literals (undefined uid, Buffer views).
function norm(ts: Transmission[]): unknown[] {
  return ts.map((x) => JSON.parse(JSON.stringify(x, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v))));
}

t.test('error vectors', async (t) => {
  const p = () => new TransmissionParser(1024);
  const collect = (bytes: Buffer, parser = p()) => parser.push(bytes, () => {});
  t.equal(collect(hex('70'))?.code, ProtocolErrorCode.UNKNOWN_TOT, 'ToT 7 unknown');
  t.equal(collect(hex('e0'))?.code, ProtocolErrorCode.UNKNOWN_TOT, 'ToT 0xE unknown');
  t.equal(collect(hex('38 ffffffffffffffffffffffffffffffff 0001 00 0000'))?.code, ProtocolErrorCode.BAD_UID, 'invalid UTF-8 UID');
  t.equal(collect(hex('00 ffffffff'))?.code, ProtocolErrorCode.TOO_LARGE, 'huge ACL count refused before allocation');
  t.equal(collect(hex('30 0001 00 ffff'))?.code, ProtocolErrorCode.TOO_LARGE, 'payload over the limit');
  const parser = p();
  t.ok(collect(hex('70'), parser));
  t.equal(collect(hex('10'), parser)?.code, ProtocolErrorCode.UNKNOWN_TOT, 'stays failed');
});

t.test('reserved header bits are ignored', async (t) => {
  t.same(norm(decodeTransmissions(hex('17'))), [{ type: ToT.PING }]);
});

const arbPayload = fc.record({
  format: fc.constantFrom(0, 1, 2, 0xa),
  options: fc.integer({ min: 0, max: 15 }),
  data: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
});
const arbUid = fc.string({ unit: 'binary', maxLength: 16 })
  .filter((s) => Buffer.byteLength(s) <= 16 && !s.startsWith('\0'));
const arbOptUid = fc.option(arbUid, { nil: undefined });
const arbTransmission: fc.Arbitrary<Transmission> = fc.oneof(
  fc.constant({ type: ToT.PING } as Transmission),
  fc.constant({ type: ToT.PONG } as Transmission),
  fc.record({ type: fc.constant(ToT.CLOSE), code: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ type: fc.constant(ToT.TOKEN), token: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((a) => Buffer.from(a)) }),
  fc.record({ type: fc.constant(ToT.REQUEST), uid: arbOptUid, tracking: fc.integer({ min: 0, max: 0xffff }), payload: arbPayload }),
  fc.record({
    type: fc.constant(ToT.RESPONSE), uid: arbOptUid, tracking: fc.integer({ min: 0, max: 0xffff }),
    code: fc.integer({ min: 0, max: 255 }), payload: arbPayload,
  }),
  fc.record({ type: fc.constant(ToT.TELEMETRY), uid: arbUid, payload: arbPayload }),
  fc.record({
    type: fc.constant(ToT.ACL),
    entries: fc.array(fc.record({ group: arbUid, uid: arbUid, key: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)) }), { maxLength: 4 }),
  }),
) as fc.Arbitrary<Transmission>;

t.test('property: random transmissions round-trip', async (t) => {
  fc.assert(fc.property(arbTransmission, (x) => {
    const bytes = encodeTransmission(x);
    t.same(norm(decodeTransmissions(bytes)), norm([x]));
    return encodeTransmission(decodeTransmissions(bytes)[0]!).equals(bytes);
  }), { numRuns: 500 });
});

t.test('property: any random split of a stream parses to the same sequence', async (t) => {
  fc.assert(fc.property(fc.array(arbTransmission, { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (xs, cuts) => {
    const stream = encodeTransmissions(xs);
    const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
    const parser = new TransmissionParser(1 << 20);
    const out: Transmission[] = [];
    let prev = 0;
    for (const c of [...points, stream.length]) {
      const err = parser.push(stream.subarray(prev, c), (x) => out.push(x));
      if (err) throw err;
      prev = c;
    }
    t.equal(parser.hasPartial, false);
    return JSON.stringify(norm(out)) === JSON.stringify(norm(xs));
  }), { numRuns: 300 });
});

t.test('one byte at a time and 200 in one chunk', async (t) => {
  const xs: Transmission[] = Array.from({ length: 200 }, (_, i) => ({ type: ToT.REQUEST, uid: `d${i}`, tracking: i, payload: payload(Format.ASCII, `n${i}`) }));
  const stream = encodeTransmissions(xs);
  const a: Transmission[] = [];
  const p1 = new TransmissionParser(1 << 20);
  for (let i = 0; i < stream.length; i++) p1.push(stream.subarray(i, i + 1), (x) => a.push(x));
  t.equal(a.length, 200);
  t.same(norm(a), norm(xs));
  t.same(norm(decodeTransmissions(stream)), norm(xs));
});

t.test('push calls its receiver on the object given, across a split transmission too', async (t) => {
  const owner = { got: [] as number[] };
  const receive = function (this: typeof owner, x: Transmission) { this.got.push(x.type); };
  const stream = encodeTransmissions([{ type: ToT.PING }, { type: ToT.REQUEST, tracking: 7, payload: payload(Format.ASCII, 'split') }, { type: ToT.PONG }]);
  const p = new TransmissionParser(1 << 20);
  t.equal(p.push(stream.subarray(0, 4), receive, owner), undefined);
  t.ok(p.hasPartial, 'the request waits for the rest');
  t.equal(p.push(stream.subarray(4), receive, owner), undefined);
  t.notOk(p.hasPartial);
  t.same(owner.got, [ToT.PING, ToT.REQUEST, ToT.PONG]);
});
