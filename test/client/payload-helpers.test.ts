import t from 'tap';
import { ClientErrorCode, Format, ascii, binary, decodePayloadJson, json, toPayload, utf8 } from '../../src/client/index.js';

t.test('helpers build payload blocks', async (t) => {
  t.same(json({ a: [1] }), { format: Format.JSON, options: 0, data: Buffer.from('{"a":[1]}') });
  t.same(ascii('AZ'), { format: Format.ASCII, options: 0, data: Buffer.from('AZ') });
  t.same(utf8('é'), { format: Format.UTF8, options: 0, data: Buffer.from([0xc3, 0xa9]) });
  t.same(binary([0, 255]), { format: Format.BINARY, options: 0, data: Buffer.from([0, 255]) });
  t.same(binary(), { format: Format.BINARY, options: 0, data: Buffer.alloc(0) });
  t.throws(() => ascii('é'), { code: ClientErrorCode.INVALID_ARG });
  t.throws(() => json(undefined), { code: ClientErrorCode.INVALID_ARG });
});

t.test('decodePayloadJson', async (t) => {
  t.same(decodePayloadJson(json({ x: 'y' })), { x: 'y' });
  t.throws(() => decodePayloadJson(utf8('{}')), { code: ClientErrorCode.BAD_PAYLOAD });
  t.throws(() => decodePayloadJson({ format: Format.JSON, options: 0, data: Buffer.from('{') }), { code: ClientErrorCode.BAD_PAYLOAD });
});

t.test('toPayload keeps options and accepts Uint8Array', async (t) => {
  const p = { format: 2, options: 5, data: Buffer.from('a') };
  t.equal(toPayload(p), p, 'no copy');
  t.same(toPayload({ format: 0, data: new Uint8Array([7]) }), { format: 0, options: 0, data: Buffer.from([7]) });
});
