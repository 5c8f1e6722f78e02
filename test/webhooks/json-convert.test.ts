import t from 'tap';
import { Format, type Payload } from '../../src/protocol/index.js';
import { JsonPayloadError, payloadFromJson, payloadToJson } from '../../src/webhooks/json-convert.js';
import { parseWebhookAnswer } from '../../src/webhooks/request-webhook.js';

const pl = (format: number, data: Buffer | string): Payload => ({ format, options: 0, data: Buffer.from(data) });

t.test('each format round-trips through its JSON form (PROTOCOL §8)', async (t) => {
  const cases: Array<[Payload, unknown, string]> = [
    [pl(Format.BINARY, Buffer.from([0, 127, 255])), [0, 127, 255], 'BINARY'],
    [pl(Format.BINARY, Buffer.alloc(0)), [], 'BINARY'],
    [pl(Format.ASCII, 'plain text\n'), 'plain text\n', 'ASCII'],
    [pl(Format.UTF8, 'ünïcödé ✓ 𝄞'), 'ünïcödé ✓ 𝄞', 'UTF8'],
    [pl(Format.JSON, '{"a":[1,2,{"b":null}],"c":"d"}'), { a: [1, 2, { b: null }], c: 'd' }, 'JSON'],
    [pl(Format.JSON, '42'), 42, 'JSON'],
    [pl(Format.JSON, 'null'), null, 'JSON'],
  ];
  for (const [payload, value, format] of cases) {
    t.same(payloadToJson(payload), { Format: format, Payload: value }, `${format} to JSON`);
    const back = payloadFromJson(format, value) as Payload;
    t.same([back.format, [...back.data]], [payload.format, [...payload.data]], `${format} from JSON`);
  }
});

t.test('JSON is re-serialised, not copied', async (t) => {
  const back = payloadFromJson('JSON', JSON.parse('{ "a" :  1 }')) as Payload;
  t.equal(back.data.toString(), '{"a":1}');
});

t.test('invalid payloads and values are coded errors naming the field', async (t) => {
  const bad: Array<[unknown, string]> = [
    [payloadToJson(pl(Format.ASCII, Buffer.from([0x41, 0x80]))), 'Payload'],
    [payloadToJson(pl(Format.UTF8, Buffer.from([0xc3]))), 'Payload'],
    [payloadToJson(pl(Format.JSON, '{')), 'Payload'],
    [payloadToJson(pl(Format.JSON, '')), 'Payload'],
    [payloadToJson(pl(0x7, 'x')), 'Format'],
    [payloadFromJson('TEXT', 'x'), 'Format'],
    [payloadFromJson(undefined, 'x'), 'Format'],
    [payloadFromJson('ASCII', 'é'), 'Payload'],
    [payloadFromJson('ASCII', 5), 'Payload'],
    [payloadFromJson('UTF8', '\uD800'), 'Payload'],
    [payloadFromJson('BINARY', [1, 2, 256]), 'Payload'],
    [payloadFromJson('BINARY', [1.5]), 'Payload'],
    [payloadFromJson('BINARY', 'abc'), 'Payload'],
    [payloadFromJson('JSON', undefined), 'Payload'],
    [payloadFromJson('BINARY', new Array(65536).fill(0)), 'Payload'],
  ];
  for (const [r, field] of bad) {
    t.ok(r instanceof JsonPayloadError, 'an error');
    t.match(r, { code: 'ERR_IOTS_JSON_PAYLOAD', field });
  }
});

t.test('webhook answers', async (t) => {
  t.match(parseWebhookAnswer('{"Code":0,"Payload":"x","Format":"ASCII"}'), { code: 0, payload: { format: Format.ASCII } });
  t.match(parseWebhookAnswer('{"Code":161,"Payload":null}'), { code: 161, payload: { data: Buffer.alloc(0) } });
  t.match(parseWebhookAnswer('{"Code":0,"Payload":null,"Format":"JSON"}'), { code: 0, payload: { format: Format.JSON, data: Buffer.from('null') } });
  for (const bad of ['', '[]', 'null', '{"Code":-1}', '{"Code":"0"}', '{"Code":0.5}', '{"Code":0,"Payload":"x"}']) {
    t.match(parseWebhookAnswer(bad), { code: 'ERR_IOTS_JSON_PAYLOAD' }, `refused: ${bad || '(empty)'}`);
  }
});
