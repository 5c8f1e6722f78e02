import t from 'tap';
import { ChunkReader, LINK_VERSION, checkLinkAuth, decodeLinkHello, encodeLinkAuth, encodeLinkHello, linkAuthBytes, linkMac } from '../../src/cluster/link-frames.js';

t.test('hello: reads back; another magic or version is named, not misread', async (t) => {
  const challenge = Buffer.alloc(16, 9);
  const hello = encodeLinkHello(challenge);
  t.same(decodeLinkHello(hello), { challenge });
  t.match(decodeLinkHello(Buffer.concat([Buffer.from('HTTP'), hello.subarray(4)])), { problem: /not a node link/ });
  const v2 = Buffer.from(hello);
  v2[4] = LINK_VERSION + 1;
  t.match(decodeLinkHello(v2), { problem: `node link version ${LINK_VERSION + 1}; this node speaks ${LINK_VERSION}` });
});

t.test('auth: the right key names the sender; a wrong key, challenge or torn message does not', async (t) => {
  const key = Buffer.alloc(32, 1);
  const challenge = Buffer.alloc(16, 2);
  const auth = encodeLinkAuth('node-a', linkMac(key, challenge, 'node-a'));
  t.equal(auth.length, linkAuthBytes(auth[0]!));
  t.equal(checkLinkAuth(auth, key, challenge), 'node-a');
  t.equal(checkLinkAuth(auth, Buffer.alloc(32, 3), challenge), undefined);
  t.equal(checkLinkAuth(auth, key, Buffer.alloc(16, 4)), undefined);
  t.equal(checkLinkAuth(auth.subarray(0, auth.length - 1), key, challenge), undefined);
  // The id is covered by the MAC: a sender cannot claim another node's name with its own MAC.
  const renamed = encodeLinkAuth('node-b', linkMac(key, challenge, 'node-a'));
  t.equal(checkLinkAuth(renamed, key, challenge), undefined);
});

t.test('ChunkReader: runs across chunk borders, in order, copying only when a run spans chunks', async (t) => {
  const r = new ChunkReader();
  const all = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
  r.push(all.subarray(0, 3));
  t.equal(r.peekU32(), undefined, 'three bytes are no u32');
  r.push(all.subarray(3, 10));
  r.push(Buffer.alloc(0));
  r.push(all.subarray(10));
  t.equal(r.peekU32(), all.readUInt32BE(0), 'a u32 across two chunks');
  t.equal(r.peekByte(50), 50);
  t.same(r.take(2), all.subarray(0, 2));
  t.same(r.take(20), all.subarray(2, 22), 'a run over three chunks');
  const inOne = r.take(10)!;
  t.same(inOne, all.subarray(22, 32));
  t.equal(inOne.buffer, all.buffer, 'a run inside one chunk is a view, not a copy');
  t.equal(r.take(69), undefined, 'more than is there');
  t.same(r.take(68), all.subarray(32));
  t.equal(r.size, 0);
  t.same(r.take(0), Buffer.alloc(0));
});
