import t from 'tap';
import { MemoryInboxBacking, MemoryNodeInbox, TurnBatches, packBatch, unpackBatch } from '../../src/registry/node-inbox.js';
import { nodeInboxContract } from '../contracts/node-inbox.contract.js';

nodeInboxContract(t, async () => {
  const backing = new MemoryInboxBacking();
  return { node: async (id) => new MemoryNodeInbox(id, backing) };
});

t.test('a packed batch reads back whole; a torn one is refused, not misread', async (t) => {
  const batch = [Buffer.from('a'), Buffer.alloc(0), Buffer.from([1, 2, 3])];
  const packed = packBatch(batch);
  t.same(unpackBatch(packed).map((b) => b.toString('hex')), batch.map((b) => b.toString('hex')));
  t.throws(() => unpackBatch(packed.subarray(0, packed.length - 1)), /torn message/);
  t.throws(() => unpackBatch(packed.subarray(0, 2)), /torn length/);
});

t.test("TurnBatches: a destination's batch is the same through a turn, and a new one once taken or sent (the last batch asked for is held, not looked up)", async (t) => {
  const sent: Array<Map<string, { to: string; n: number }>> = [];
  let made = 0;
  const tb = new TurnBatches<{ to: string; n: number }>((to) => ({ to, n: made++ }), (out) => void sent.push(new Map(out)));
  const a1 = tb.batch('a');
  t.equal(tb.batch('a'), a1, 'the same batch again');
  const b1 = tb.batch('b');
  t.not(b1, a1);
  t.equal(tb.batch('a'), a1, 'back to a: still its batch');
  tb.take('a');
  const a2 = tb.batch('a');
  t.not(a2, a1, 'taken (sent early): the next message starts a new batch');
  t.equal(tb.batch('a'), a2);
  await tb.flushed;
  t.same([...sent[0]!.keys()].sort(), ['a', 'b']);
  t.equal(sent[0]!.get('a'), a2, 'the turn sends the batch after the one taken');
  const a3 = tb.batch('a');
  t.not(a3, a2, 'a new turn, a new batch');
  await tb.flushed;
  t.equal(sent[1]!.get('a'), a3);
});
