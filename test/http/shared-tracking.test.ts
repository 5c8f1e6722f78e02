import t from 'tap';
import { Format, ResponseCode, ToT, type Payload } from '../../src/protocol/index.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { startHttpDaemon } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';

const dev = device('dev-1');
const ascii = (s: string): Payload => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });

// PROTOCOL §5 Decision: the TCP central and the HTTP API share each object's tracking space.
t.test('TCP central and concurrent HTTP callers on one object: each answer reaches its own requester', async (t) => {
  const d = await startHttpDaemon(t, [dev]);
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { central.close(); obj.close(); });

  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 5, payload: ascii('tcp') });
  t.equal((await obj.nextOf(ToT.REQUEST)).tracking, 5, 'the TCP central\'s request is in flight first');
  const callers = 20;
  const pending = Array.from({ length: callers }, (_, i) => d.post('/request', { UID: dev.uid, Format: 'ASCII', Payload: `http-${i}` }));
  const seen = new Map<number, string>();
  while (seen.size < callers) {
    const req = await obj.nextOf(ToT.REQUEST);
    t.notOk(seen.has(req.tracking) || req.tracking === 5, `tracking ${req.tracking} is free when picked`);
    seen.set(req.tracking, req.payload.data.toString());
  }
  // The object answers in reverse order, the TCP central's request in the middle.
  const order = [...seen].reverse();
  order.splice(callers / 2, 0, [5, 'tcp']);
  for (const [tracking, what] of order) obj.send({ type: ToT.RESPONSE, tracking, code: 0, payload: ascii(`re:${what}`) });
  const answers = await Promise.all(pending);
  answers.forEach((a, i) => t.same(a.json, { Code: 0, Payload: `re:http-${i}`, Format: 'ASCII' }, `HTTP caller ${i} got its own answer`));
  const res = await central.nextOf(ToT.RESPONSE);
  t.same([res.uid, res.tracking, res.payload.data.toString()], [dev.uid, 5, 're:tcp'], 'the TCP central got its own answer');
  central.send({ type: ToT.PING });
  t.equal((await central.next()).type, ToT.PONG, 'and nothing meant for an HTTP caller');
  t.equal(d.daemon.internals.tracker.size, 0);
});

t.test('a TCP central request colliding with an HTTP-held tracking number gets 0xA2', async (t) => {
  const d = await startHttpDaemon(t, [dev]);
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { central.close(); obj.close(); });

  const pending = d.post('/request', { UID: dev.uid, Format: 'ASCII', Payload: 'http' });
  const held = await obj.nextOf(ToT.REQUEST);
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: held.tracking, payload: ascii('tcp') });
  const refused = await central.nextOf(ToT.RESPONSE);
  t.same([refused.uid, refused.tracking, refused.code], [dev.uid, held.tracking, ResponseCode.IN_PROGRESS], '0xA2 to the TCP central');
  obj.send({ type: ToT.RESPONSE, tracking: held.tracking, code: 0, payload: ascii('for http') });
  t.same((await pending).json, { Code: 0, Payload: 'for http', Format: 'ASCII' }, 'the HTTP caller owns the number and gets the answer');
  obj.send({ type: ToT.PING });
  t.equal((await obj.next()).type, ToT.PONG, 'the colliding request was never forwarded');
  central.send({ type: ToT.PING });
  t.equal((await central.next()).type, ToT.PONG, 'the TCP central received no stray response');
});
