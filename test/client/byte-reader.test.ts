import { PassThrough } from 'node:stream';
import t from 'tap';
import { ByteReader, exactly } from '../../src/client/byte-reader.js';
import { ClientErrorCode } from '../../src/client/index.js';
import { decodeInitiationAnswer, encodeInitiationAnswer, RuleType } from '../../src/protocol/index.js';

t.test('reads a redirect answer and a challenge fed one byte at a time', async (t) => {
  const stream = new PassThrough();
  const reader = new ByteReader(stream);
  const answer = encodeInitiationAnswer({ ok: true, flags: 0, rule: { type: RuleType.REDIRECT, host: 'example.org', port: 4242 } });
  const bytes = Buffer.concat([answer, Buffer.alloc(16, 7), Buffer.from([1, 9, 9])]);
  const got = reader.read((buf) => {
    const r = decodeInitiationAnswer(buf);
    return typeof r === 'string' ? undefined : { value: r.answer, length: r.length };
  });
  for (const b of bytes) {
    stream.write(Buffer.from([b]));
    await new Promise((r) => setImmediate(r));
  }
  t.same(await got, { ok: true, flags: 0, rule: { type: RuleType.REDIRECT, host: 'example.org', port: 4242 } });
  t.same(await reader.read(exactly(16)), Buffer.alloc(16, 7));
  t.same(await reader.read(exactly(1)), Buffer.from([1]));
  t.same(reader.detach(), Buffer.from([9, 9]), 'unread bytes handed back');
});

t.test('a stream that ends mid-message rejects with CLOSED', async (t) => {
  const stream = new PassThrough();
  const reader = new ByteReader(stream);
  const p = reader.read(exactly(4));
  stream.end(Buffer.from([1, 2]));
  stream.resume();
  await t.rejects(p, { code: ClientErrorCode.CLOSED });
});
