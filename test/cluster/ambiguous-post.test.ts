import t from 'tap';
import { ObjectClient, ascii } from '../../src/client/index.js';
import { ToT, type Transmission } from '../../src/protocol/index.js';
import { InProcessNode } from '../helpers/cluster.js';
import { collect, echoObject } from '../helpers/recorders.js';
import { device } from '../helpers/daemon.js';
import { RedisServer } from '../helpers/redis.js';
import { redisRelay } from '../helpers/redis-relay.js';
import { until } from '../helpers/until.js';

// CLUSTER.md guarantee 2 with `cluster.inbox: redis`: a node's XADD that Redis wrote but whose
// reply never came back (Redis killed right after its AOF write, a connection dropped, a command
// timeout) was reported lost, and its origin answered 0xA0 at once — while the destination read the
// entry once Redis answered again and handed the request on (seen by the soak: 1.7–2.5 s after its
// caller was told it failed). A request must end with exactly one response: its object's here.

const redis = await RedisServer.start(t);
let fleets = 0;

for (const way of ['central → object', 'object → central'] as const) {
  t.test(`a request whose XADD Redis wrote but never acknowledged (${way}, the sender's reply cut) is answered once, by the other party`, async (t) => {
    const dev = device(`amb-${++fleets}`);
    const r = await redisRelay(t, redis);
    const over = (id: string, url?: string) => ({ cluster: { nodeId: id, keyPrefix: `amb${fleets}:`, inbox: 'redis', commandTimeoutMs: 1_000, ...(url && { redis: url }) }, tcp: { requestTimeoutSec: 5 } });
    // `a` talks to Redis through the relay; its posts are the ones cut.
    const a = await InProcessNode.start(t, redis, 'a', [dev], over('a', r.url));
    const b = await InProcessNode.start(t, redis, 'b', [dev], over('b'));
    const [centralAt, objectAt] = way === 'central → object' ? [a, b] : [b, a];
    const central = await centralAt.central();
    const seenByCentral: Transmission[] = [];
    const { obj, answered } = await echoObject(t, objectAt.tcp, dev);

    if (way === 'central → object') {
      collect(central, seenByCentral);
      const ask = (tracking: number, s: string) => central.send({ type: ToT.REQUEST, uid: dev.uid, tracking, payload: ascii(s) });
      const answers = () => seenByCentral.filter((x) => x.type === ToT.RESPONSE);
      ask(1, 'warm-up'); // the route to b is cached: the next request's only command is its XADD
      await until(() => answers().length === 1, 'the warm-up answered');
      r.arm();
      ask(2, 'cut');
      await until(() => r.cuts === 1 && answers().length >= 2, 'the cut request answered', 10_000);
      await new Promise((res) => setTimeout(res, 500)); // a second answer, if any, would come now
      const two = answers().filter((x) => x.type === ToT.RESPONSE && x.tracking === 2);
      t.same(two.map((x) => x.type === ToT.RESPONSE && [x.code, x.payload.data.toString()]), [[0, 'echo cut']], "one answer: the object's");
      t.same(answered, ['warm-up', 'cut'], 'the object saw it once');
    } else {
      const handled: string[] = [];
      collect(central, seenByCentral);
      void (async () => {
        for (;;) {
          await until(() => seenByCentral.some((x) => x.type === ToT.REQUEST && !handled.includes(x.payload.data.toString())), 'a request', 60_000).catch(() => {});
          const q = seenByCentral.find((x) => x.type === ToT.REQUEST && !handled.includes(x.payload.data.toString()));
          if (!q || q.type !== ToT.REQUEST) return;
          handled.push(q.payload.data.toString());
          central.send({ type: ToT.RESPONSE, uid: q.uid, tracking: q.tracking, code: 0, payload: ascii(`central ${q.payload.data.toString()}`) });
        }
      })();
      const warm = await obj.request(ascii('warm-up'));
      t.equal(warm.code, 0, 'the warm-up answered');
      r.arm();
      const replies: Array<[number, string]> = [];
      const got = await obj.request(ascii('cut'));
      replies.push([got.code, got.payload.data.toString()]);
      t.equal(r.cuts, 1, 'the XADD was cut');
      t.same(replies, [[0, 'central cut']], "one answer: the central's");
      t.same(handled, ['warm-up', 'cut'], 'the central saw it once');
    }
  });
}

t.test('a request whose XADD was cut and that its destination reads only after its timeout: answered 0xA1 once, never delivered late', async (t) => {
  const dev = device(`amb-${++fleets}`);
  const [ra, rb] = [await redisRelay(t, redis), await redisRelay(t, redis)];
  const over = (id: string, url: string) => ({ cluster: { nodeId: id, keyPrefix: `amb${fleets}:`, inbox: 'redis', commandTimeoutMs: 1_000, redis: url }, tcp: { requestTimeoutSec: 1 } });
  const a = await InProcessNode.start(t, redis, 'a', [dev], over('a', ra.url));
  const b = await InProcessNode.start(t, redis, 'b', [dev], over('b', rb.url));
  const central = await b.central();
  const seen: Transmission[] = [];
  collect(central, seen);
  const obj = new ObjectClient({ host: '127.0.0.1', port: a.tcp, uid: dev.uid, key: dev.key, reconnect: false, handler: () => ({ code: 0, payload: ascii('x') }) });
  t.teardown(() => obj.destroy());
  await obj.connect();
  const warm = obj.request(ascii('warm-up'));
  await until(() => seen.some((x) => x.type === ToT.REQUEST), 'the warm-up at the central');
  const q = seen.find((x) => x.type === ToT.REQUEST)!;
  if (q.type === ToT.REQUEST) central.send({ type: ToT.RESPONSE, uid: q.uid, tracking: q.tracking, code: 0, payload: ascii('ok') });
  t.equal((await warm).code, 0, 'the warm-up answered');
  rb.hold(); // b's inbox reads wait in the relay: b reads the next entry late
  ra.arm();
  const started = performance.now();
  const late = await obj.request(ascii('late'));
  t.equal(ra.cuts, 1, 'the XADD was cut');
  t.equal(late.code, 0xa1, `answered 0xA1 at its timeout (${Math.round(performance.now() - started)} ms), not 0xA0 at once`);
  rb.release();
  await new Promise((res) => setTimeout(res, 1_500)); // b reads the entry now, and must drop it
  t.same(seen.filter((x) => x.type === ToT.REQUEST).map((x) => x.type === ToT.REQUEST && x.payload.data.toString()), ['warm-up'], 'the central never got the request its origin was answered for');
});
