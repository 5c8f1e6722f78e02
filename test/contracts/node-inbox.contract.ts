import type { Test } from 'tap';
import { sinkRoom, type ByteSink, type NodeInbox } from '../../src/registry/node-inbox.js';
import { until } from '../helpers/until.js';

export interface InboxFleet {
  node(id: string): Promise<NodeInbox>;
}

/** A node's inbox collecting what it receives. */
async function receiver(inbox: NodeInbox): Promise<{ got: Buffer[]; batches: number; until(n: number): Promise<void> }> {
  const r = {
    got: [] as Buffer[],
    batches: 0,
    until: (n: number) => until(() => r.got.length >= n, `${n} messages at the inbox of ${inbox.node}`),
  };
  await inbox.start((batch) => { r.batches++; r.got.push(...batch.map((b) => Buffer.from(b))); });
  return r;
}

/** What every NodeInbox must do, run on each implementation. `maxBatch`: the most messages an engine puts in one batch (direct links: 64). */
export function nodeInboxContract(t: Test, makeFleet: (t: Test) => Promise<InboxFleet>, opts: { maxBatch?: number } = {}): void {
  t.test('messages reach the node they are posted to, in order, and no other', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b, c] = await Promise.all([fleet.node('a'), fleet.node('b'), fleet.node('c')]);
    const [rb, rc] = [await receiver(b), await receiver(c)];
    t.teardown(async () => { await b.close(); await c.close(); });
    for (let i = 0; i < 300; i++) a.post('b', Buffer.from(`m${i}`));
    a.post('c', Buffer.from('for c'));
    await a.flush();
    await rb.until(300);
    await rc.until(1);
    t.same(rb.got.map(String), Array.from({ length: 300 }, (_, i) => `m${i}`), 'all, in order');
    t.same(rc.got.map(String), ['for c']);
  });

  t.test('one loop turn\'s messages to a node arrive as one batch (or as few as the engine\'s batch size allows)', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const rb = await receiver(b);
    t.teardown(() => b.close());
    for (let i = 0; i < 1000; i++) a.post('b', Buffer.from([i & 0xff]));
    await a.flush();
    await rb.until(1000);
    t.equal(rb.batches, opts.maxBatch ? Math.ceil(1000 / opts.maxBatch) : 1);
    t.same(rb.got.map((m) => m[0]), Array.from({ length: 1000 }, (_, i) => i & 0xff), 'in order');
  });

  t.test('an engine that encodes in place (postEncoded) delivers the same bytes, in order with post; a message that cannot be encoded is not sent, the rest is', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    if (!a.postEncoded) return t.pass('this engine takes each message as a Buffer (post only)');
    const rb = await receiver(b);
    t.teardown(() => b.close());
    // Writes `m` as given, in `version`, through the sink the inbox hands over (growing it byte by byte).
    const encode = (m: string, version: number, sink: ByteSink) => {
      if (m === 'bad') throw new Error('cannot encode');
      for (const byte of Buffer.from(`v${version}:${m}`)) {
        const at = sinkRoom(sink, 1); // before reading sink.buf: reserving may replace it
        sink.buf[at] = byte;
      }
    };
    const want: string[] = [];
    for (let i = 0; i < 150; i++) {
      if (i % 3 === 0) { a.post('b', Buffer.from(`p${i}`)); want.push(`p${i}`); continue; }
      if (i % 10 === 1) { t.throws(() => a.postEncoded!('b', encode, 'bad', 1)); continue; }
      a.postEncoded('b', encode, `e${i}${'x'.repeat(i * 13)}`, 1);
      want.push(`v1:e${i}${'x'.repeat(i * 13)}`);
    }
    await a.flush();
    await rb.until(want.length);
    t.same(rb.got.map(String), want);
  });

  t.test('any bytes: empty, binary, large', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const rb = await receiver(b);
    t.teardown(() => b.close());
    const big = Buffer.alloc(200_000, 7);
    const msgs = [Buffer.alloc(0), Buffer.from([0, 255, 0, 0, 0, 1]), big];
    for (const m of msgs) a.post('b', m);
    await a.flush();
    await rb.until(3);
    t.same(rb.got.map((m) => m.toString('hex')), msgs.map((m) => m.toString('hex')));
  });

  t.test('messages from several senders all arrive; each sender\'s in its order', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b, c] = await Promise.all([fleet.node('a'), fleet.node('b'), fleet.node('c')]);
    const rc = await receiver(c);
    t.teardown(() => c.close());
    for (let turn = 0; turn < 5; turn++) {
      for (let i = 0; i < 20; i++) { a.post('c', Buffer.from(`a${turn * 20 + i}`)); b.post('c', Buffer.from(`b${turn * 20 + i}`)); }
      await Promise.all([a.flush(), b.flush()]);
    }
    await rc.until(200);
    const from = (p: string) => rc.got.map(String).filter((s) => s.startsWith(p));
    t.same(from('a'), Array.from({ length: 100 }, (_, i) => `a${i}`));
    t.same(from('b'), Array.from({ length: 100 }, (_, i) => `b${i}`));
  });

  t.test('a closed inbox receives nothing more', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const rb = await receiver(b);
    a.post('b', Buffer.from('before'));
    await a.flush();
    await rb.until(1);
    await b.close();
    await b.close();
    a.post('b', Buffer.from('after'));
    await a.flush().catch(() => {}); // an engine may say at once that it is lost (direct links do)
    await new Promise((r) => setTimeout(r, 50));
    t.same(rb.got.map(String), ['before']);
  });
}
