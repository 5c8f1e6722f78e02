import t from 'tap';
import { MemoryInboxBacking, MemoryNodeInbox, packBatch, unpackBatch } from '../../src/registry/node-inbox.js';
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
