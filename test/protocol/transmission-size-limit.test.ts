import t, { type Test } from 'tap';
import {
  ACL_ENTRY_LENGTH, Format, ProtocolErrorCode, ToT, TransmissionParser, encodeTransmission, type Transmission,
} from '../../src/protocol/index.js';

// tcp.maxTransmissionBytes at its boundary: a transmission of exactly the limit is accepted,
// one byte more is refused as soon as its header tells the length, before any body byte.

const LIMIT = 100;
const data = (n: number) => ({ format: Format.BINARY, options: 0, data: Buffer.alloc(n, 0x61) });

/** Transmissions of `total` bytes, each with how many leading bytes tell its length (its header). */
function ofTotal(total: number): Array<[string, Transmission, number]> {
  return [
    ['object request', { type: ToT.REQUEST, tracking: 1, payload: data(total - 6) }, 6],
    ['central request', { type: ToT.REQUEST, uid: 'dev-1', tracking: 1, payload: data(total - 22) }, 22],
    ['response', { type: ToT.RESPONSE, tracking: 1, code: 0, payload: data(total - 7) }, 7],
    ['identified telemetry', { type: ToT.TELEMETRY, uid: 'dev-1', payload: data(total - 20) }, 20],
  ];
}

function check(t: Test, name: string, bytes: Buffer, headerLength: number, limit: number, accepted: boolean) {
  t.test(`${name} of ${bytes.length} bytes, limit ${limit}`, async (t) => {
    const parser = new TransmissionParser(limit);
    const out: Transmission[] = [];
    // One byte at a time through the header: nothing is decided before the length is known.
    for (let i = 0; i < headerLength - 1; i++) t.equal(parser.push(bytes.subarray(i, i + 1), (x) => out.push(x)), undefined, `no verdict at header byte ${i}`);
    const atHeader = parser.push(bytes.subarray(headerLength - 1, headerLength), (x) => out.push(x));
    if (!accepted) {
      t.equal(atHeader?.code, ProtocolErrorCode.TOO_LARGE, 'refused at the last header byte, before any body byte');
      t.equal(parser.hasPartial, false, 'nothing of it is kept');
      t.equal(out.length, 0);
      return;
    }
    t.equal(atHeader, undefined, 'not refused once its length is known');
    t.equal(parser.push(bytes.subarray(headerLength), (x) => out.push(x)), undefined, 'the body completes it');
    t.equal(out.length, 1, 'parsed');
    if (out[0]) t.same(encodeTransmission(out[0]), bytes, 'as sent');
    t.equal(parser.hasPartial, false);
  });
}

for (const [name, x, header] of ofTotal(LIMIT)) check(t, name, encodeTransmission(x), header, LIMIT, true);
for (const [name, x, header] of ofTotal(LIMIT + 1)) check(t, name, encodeTransmission(x), header, LIMIT, false);

// An ACL grows by 48-byte entries: two of them make 5 + 96 = 101 bytes, checked against 101 and 100.
const acl = encodeTransmission({ type: ToT.ACL, entries: [0, 1].map((i) => ({ group: 'Devices', uid: `d${i}`, key: Buffer.alloc(16, i) })) });
t.equal(acl.length, 5 + 2 * ACL_ENTRY_LENGTH);
check(t, 'ACL', acl, 5, acl.length, true);
check(t, 'ACL', acl, 5, acl.length - 1, false);

t.test('a whole stream of limit-sized transmissions in one chunk parses; one over the limit in it fails the stream', async (t) => {
  const ok = ofTotal(LIMIT).map(([, x]) => encodeTransmission(x));
  const out: Transmission[] = [];
  t.equal(new TransmissionParser(LIMIT).push(Buffer.concat(ok), (x) => out.push(x)), undefined);
  t.equal(out.length, ok.length, 'all parsed');
  const over = encodeTransmission(ofTotal(LIMIT + 1)[0]![1]);
  const seen: Transmission[] = [];
  t.equal(new TransmissionParser(LIMIT).push(Buffer.concat([ok[0]!, over]), (x) => seen.push(x))?.code, ProtocolErrorCode.TOO_LARGE);
  t.equal(seen.length, 1, 'what came before it was delivered');
});
