import t from 'tap';
import fc from 'fast-check';
import { ProtocolErrorCode } from '../../src/protocol/index.js';
import { writeUid } from '../../src/protocol/uid.js';

// PROTOCOL §2, byte by byte: the UTF-8 text right-aligned in 16 bytes, 0x00 to its left.
const reference = (uid: string) => Buffer.concat([Buffer.alloc(16 - Buffer.byteLength(uid)), Buffer.from(uid, 'utf8')]);

/** writeUid into a buffer full of 0xee at offset 3, so padding and bounds are both checked. */
function written(uid: string): Buffer {
  const buf = Buffer.alloc(22, 0xee);
  t.equal(writeUid(uid, buf, 3), 19);
  t.equal(buf.subarray(0, 3).toString('hex'), 'eeeeee', 'nothing written before the offset');
  t.equal(buf.subarray(19).toString('hex'), 'eeeeee', 'nothing written after the 16 bytes');
  return buf.subarray(3, 19);
}

t.test('ASCII (the fast path) and non-ASCII UIDs encode as PROTOCOL §2 says, over a dirty buffer', async (t) => {
  for (const uid of ['', 'a', 'dev-1', 'sixteen-chars-ok', '\x7f', 'é', 'ascii-then-é', '日本語', '\u{1f600}x']) {
    t.same(written(uid), reference(uid), JSON.stringify(uid));
  }
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 16 }).filter((s) => Buffer.byteLength(s) <= 16), (uid) => {
    t.same(written(uid), reference(uid));
  }), { numRuns: 300 });
});

t.test('a UID over 16 bytes is refused, ASCII or not', async (t) => {
  for (const uid of ['seventeen-chars-x', 'sixteen-chars-xé', 'é'.repeat(9)]) {
    t.throws(() => writeUid(uid, Buffer.alloc(16), 0), { code: ProtocolErrorCode.BAD_UID }, JSON.stringify(uid));
  }
});

t.test('readUid gives the UID of the bytes, whatever was read before (the recent-UID slots)', async (t) => {
  const { readUid } = await import('../../src/protocol/uid.js');
  const uids = ['dev-1', 'dev-2', '1-ved', 'dev-1\x01', 'x', 'sixteen-chars-ok', 'é', 'dev-1'];
  for (let round = 0; round < 2; round++) {
    for (const uid of uids) t.equal(readUid(reference(uid), 0), uid, JSON.stringify(uid));
  }
  t.equal(readUid(reference('dev-1'), 0), readUid(Buffer.concat([Buffer.alloc(3), reference('dev-1')]), 3), 'at any offset');
  fc.assert(fc.property(fc.array(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 16 }).filter((s) => !s.startsWith('\0')), { minLength: 1, maxLength: 3000 }), (xs) => {
    for (const uid of xs) if (readUid(reference(uid), 0) !== uid) return false;
    return true;
  }), { numRuns: 20 });
});
