import t, { type Test } from 'tap';
import { once } from 'node:events';
import { ObjectClient, ascii } from '../../src/client/index.js';
import { CloseCode, ToT, encodeTransmission } from '../../src/protocol/index.js';
import { FakeConcentrator } from '../helpers/fake-concentrator.js';
import { until } from '../helpers/until.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

async function setup(t: Test) {
  const f = await FakeConcentrator.start({ keys: { 'dev-1': KEY } });
  t.teardown(() => f.close());
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const asked: number[] = [];
  const c = new ObjectClient({
    host: '127.0.0.1', port: f.port, uid: 'dev-1', key: KEY,
    handler: async (req) => {
      asked.push(req.tracking);
      await gate; // still working on it when the Close arrives
      return { code: 0, payload: ascii(`answer ${req.tracking}`) };
    },
  });
  t.teardown(() => c.destroy());
  await c.connect();
  return { f, c, conn: await f.accepted(), release, asked };
}

t.test('a Request received before the concentrator\'s Close is still answered, then the client ends its side (a drain, issue 12)', async (t) => {
  const { c, conn, release, asked } = await setup(t);
  const closed = once(c, 'close');
  conn.sendRaw(Buffer.concat([
    encodeTransmission({ type: ToT.REQUEST, tracking: 7, payload: ascii('q') }),
    encodeTransmission({ type: ToT.CLOSE, code: CloseCode.MAINTENANCE }),
  ]));
  await until(() => asked.length === 1, 'the handler called');
  release();
  const answer = await conn.next();
  t.match(answer, { type: ToT.RESPONSE, tracking: 7, code: 0 }, 'the Response arrives after the Close');
  t.equal((answer as { payload: { data: Buffer } }).payload.data.toString(), 'answer 7');
  const [end] = await closed;
  t.match(end, { code: CloseCode.MAINTENANCE, remote: true }, 'then the connection ends, as told');
  await conn.closed;
});

t.test('nothing owed: the client ends at once on the Close; a Request after the Close is not served', async (t) => {
  const { c, conn, asked } = await setup(t);
  const closed = once(c, 'close');
  conn.sendRaw(Buffer.concat([
    encodeTransmission({ type: ToT.CLOSE, code: CloseCode.MAINTENANCE }),
    encodeTransmission({ type: ToT.REQUEST, tracking: 8, payload: ascii('late') }),
  ]));
  await closed;
  await conn.closed;
  t.same(asked, [], 'what follows a Close is not read');
});
