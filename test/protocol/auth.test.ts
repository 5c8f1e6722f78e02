import t from 'tap';
import { computeMac, verifyMac } from '../../src/protocol/index.js';

// RFC 4231 test cases 1 (short key), 2 (key shorter than the digest) and 6 (key longer than a block).
const VECTORS = [
  { key: Buffer.alloc(20, 0x0b), data: Buffer.from('Hi There'), mac: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7' },
  { key: Buffer.from('Jefe'), data: Buffer.from('what do ya want for nothing?'), mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' },
  {
    key: Buffer.alloc(131, 0xaa), data: Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'),
    mac: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
  },
];

t.test('computeMac is HMAC-SHA256: RFC 4231 vectors', async (t) => {
  for (const v of VECTORS) t.equal(computeMac(v.key, v.data).toString('hex'), v.mac);
});

t.test('verifyMac accepts the right MAC only', async (t) => {
  const key = Buffer.alloc(16, 7);
  const challenge = Buffer.alloc(16, 9);
  const mac = computeMac(key, challenge);
  t.ok(verifyMac(key, challenge, mac));
  const wrong = Buffer.from(mac);
  wrong[31]! ^= 1;
  t.notOk(verifyMac(key, challenge, wrong));
  t.notOk(verifyMac(key, challenge, mac.subarray(0, 31)));
});
