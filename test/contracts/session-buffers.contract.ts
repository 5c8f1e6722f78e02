import type { Test } from 'tap';
import type { BufferBounds, SessionBuffers } from '../../src/registry/session-buffers.js';
import type { SessionDirectory } from '../../src/registry/session-directory.js';

const bounds = (over: Partial<BufferBounds> = {}): BufferBounds => ({ maxCount: 100, maxBytes: 1 << 20, ttlMs: 60_000, ...over });
const bytes = (s: string) => Buffer.from(s);

/** What every SessionBuffers must do (PROTOCOL §6, CLUSTER.md guarantee 4), on each implementation. */
export function sessionBuffersContract(t: Test, makePair: (t: Test) => Promise<{ buffers: SessionBuffers; directory: SessionDirectory }>): void {
  const make = async (t: Test) => (await makePair(t)).buffers;
  t.test('append then take: every entry, in order, once; requests keep their tracking reference', async (t) => {
    const b = await make(t);
    t.equal(await b.append('dev-1', { bytes: bytes('r1'), request: { dir: 'down', tracking: 7, node: 'a' } }, bounds()), undefined);
    t.equal(await b.append('dev-1', { bytes: bytes('resp') }, bounds()), undefined);
    t.equal(await b.append('dev-1', { bytes: Buffer.from([0, 1, 2, 255]), request: { dir: 'up', tracking: 65535, node: 'b' } }, bounds()), undefined);
    t.same(await b.stats('dev-1'), { count: 3, bytes: 10 });
    const got = await b.take('dev-1');
    t.same(got.map((e) => e.bytes.toString('hex')), [bytes('r1'), bytes('resp'), Buffer.from([0, 1, 2, 255])].map((x) => x.toString('hex')));
    t.same(got.map((e) => e.request), [{ dir: 'down', tracking: 7, node: 'a' }, undefined, { dir: 'up', tracking: 65535, node: 'b' }]);
    t.same(await b.take('dev-1'), [], 'taken once');
    t.same(await b.stats('dev-1'), { count: 0, bytes: 0 });
  });

  t.test('bounds refuse without adding: count, then bytes', async (t) => {
    const b = await make(t);
    for (let i = 0; i < 3; i++) await b.append('u', { bytes: bytes('xx') }, bounds({ maxCount: 3 }));
    t.equal(await b.append('u', { bytes: bytes('xx') }, bounds({ maxCount: 3 })), 'session-count');
    t.equal((await b.stats('u')).count, 3);
    t.equal(await b.append('v', { bytes: bytes('12345') }, bounds({ maxBytes: 6 })), undefined);
    t.equal(await b.append('v', { bytes: bytes('12') }, bounds({ maxBytes: 6 })), 'session-bytes');
    t.equal(await b.append('v', { bytes: bytes('1') }, bounds({ maxBytes: 6 })), undefined, 'exactly the bound fits');
    t.same(await b.stats('v'), { count: 2, bytes: 6 });
  });

  t.test('racing appends never overshoot a bound', async (t) => {
    const b = await make(t);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => b.append('race', { bytes: bytes(`m${i}`) }, bounds({ maxCount: 20 }))));
    t.equal(results.filter((r) => r === undefined).length, 20);
    t.equal((await b.stats('race')).count, 20);
  });

  t.test('remove takes out the answered request only, and frees its bytes', async (t) => {
    const b = await make(t);
    await b.append('u', { bytes: bytes('aaaa'), request: { dir: 'down', tracking: 1, node: 'a' } }, bounds());
    await b.append('u', { bytes: bytes('bb'), request: { dir: 'down', tracking: 2, node: 'a' } }, bounds());
    await b.append('u', { bytes: bytes('c'), request: { dir: 'up', tracking: 2, node: 'a' } }, bounds());
    t.equal(await b.remove('u', 'down', 2), true);
    t.equal(await b.remove('u', 'down', 2), false, 'once');
    t.equal(await b.remove('u', 'down', 9), false);
    t.equal(await b.remove('nobody', 'down', 1), false);
    t.same(await b.stats('u'), { count: 2, bytes: 5 });
    t.same((await b.take('u')).map((e) => e.bytes.toString()), ['aaaa', 'c']);
  });

  t.test('buffers of different UIDs are apart', async (t) => {
    const b = await make(t);
    await b.append('{a}', { bytes: bytes('1') }, bounds());
    await b.append('a', { bytes: bytes('2') }, bounds());
    t.same((await b.take('{a}')).map((e) => e.bytes.toString()), ['1']);
    t.same((await b.take('a')).map((e) => e.bytes.toString()), ['2']);
  });

  t.test('an append guarded by a claim lands only while the session is kept under that claim', async (t) => {
    const { buffers: b, directory: d } = await makePair(t);
    const info = { kind: 'object' as const, group: 'G', peer: 'p', tls: false, maxTransmissionLength: 0 };
    const { claim } = await d.claim('g', info, 1);
    t.equal(await b.append('g', { bytes: bytes('x') }, bounds(), claim), 'not-kept', 'connected: refused');
    await d.keep('g', claim, 10_000, 2);
    t.equal(await b.append('g', { bytes: bytes('y') }, bounds(), claim), undefined, 'kept under it: appended');
    t.equal(await b.append('g', { bytes: bytes('z') }, bounds(), 'another.claim'), 'not-kept', 'another claim: refused');
    const resumed = await d.claim('g', info, 3);
    t.equal(await b.append('g', { bytes: bytes('w') }, bounds(), claim), 'not-kept', 'resumed elsewhere: refused');
    t.equal(await b.append('nobody', { bytes: bytes('v') }, bounds(), claim), 'not-kept', 'no entry: refused');
    t.same((await b.take('g')).map((e) => e.bytes.toString()), ['y']);
    void resumed;
  });

  t.test("the central's buffer holds requests of many objects: remove names the object", async (t) => {
    const b = await make(t);
    await b.append('', { bytes: bytes('a'), request: { dir: 'up', tracking: 5, node: 'n', uid: 'obj-1' } }, bounds());
    await b.append('', { bytes: bytes('b'), request: { dir: 'up', tracking: 5, node: 'n', uid: 'obj-2' } }, bounds());
    t.equal(await b.remove('', 'up', 5, 'obj-2'), true);
    t.equal(await b.remove('', 'up', 5, 'obj-3'), false);
    const left = await b.take('');
    t.same(left.map((e) => [e.bytes.toString(), e.request]), [['a', { dir: 'up', tracking: 5, node: 'n', uid: 'obj-1' }]], 'the object UID travels with the entry');
  });
}
