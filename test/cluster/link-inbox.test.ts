import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import pino from 'pino';
import { encodeLinkHello, LINK_ACCEPT } from '../../src/cluster/link-frames.js';
import { FRAME_MESSAGES, LinkNodeInbox, MAX_UNPROVEN_LINKS, type LinkAddress } from '../../src/cluster/link-inbox.js';
import { nodeInboxContract } from '../contracts/node-inbox.contract.js';
import { until } from '../helpers/until.js';

/** Link inboxes of one test, each finding the others' links as a registry would: once started. */
function linkFleet(t: Test, opts: Partial<ConstructorParameters<typeof LinkNodeInbox>[2]> = {}) {
  const nodes = new Map<string, LinkNodeInbox>();
  const overrides = new Map<string, LinkAddress>();
  const resolve = async (id: string) => overrides.get(id) ?? nodes.get(id)?.link;
  const node = (id: string) => {
    let n = nodes.get(id);
    if (!n) {
      n = new LinkNodeInbox(id, resolve, { host: '127.0.0.1', port: 0, ...opts }, pino({ level: 'silent' }));
      nodes.set(id, n);
      const made = n;
      t.teardown(() => made.close());
    }
    return n;
  };
  return { node, overrides };
}

nodeInboxContract(t, async (t) => {
  const f = linkFleet(t);
  return { node: async (id) => f.node(id) };
}, { maxBatch: FRAME_MESSAGES });

async function collect(inbox: LinkNodeInbox): Promise<string[]> {
  const got: string[] = [];
  await inbox.start((batch) => got.push(...batch.map(String)));
  return got;
}

t.test('a sender that does not know the receiver\'s key is refused: its messages are lost at once, and said to be', async (t) => {
  const f = linkFleet(t);
  const b = f.node('b');
  const got = await collect(b);
  f.overrides.set('b', { address: b.link!.address, key: '00'.repeat(32) });
  const a = f.node('a');
  let lost = 0;
  a.post('b', Buffer.from('forged'), () => lost++);
  await t.rejects(a.flush(), /could not be handed over/);
  t.equal(lost, 1);
  t.same(got, []);
});

t.test('a node that is not live (unknown to the registry) costs one try: posts are lost at once until the retry time', async (t) => {
  const f = linkFleet(t, { retryAfterFailMs: 60_000 });
  const a = f.node('a');
  let lost = 0;
  const started = Date.now();
  for (let i = 0; i < 3; i++) {
    a.post('gone', Buffer.from(`m${i}`), () => lost++);
    await a.flush().catch(() => {});
  }
  t.equal(lost, 3);
  t.ok(Date.now() - started < 1000, `answered fast (${Date.now() - started} ms)`);
});

t.test('a peer restarted with a new address and key is dialled again, and reached', async (t) => {
  const f = linkFleet(t, { retryAfterFailMs: 0 });
  const a = f.node('a');
  const first = new LinkNodeInbox('b', async () => undefined, { host: '127.0.0.1', port: 0 });
  const got1 = await collect(first);
  f.overrides.set('b', first.link!);
  a.post('b', Buffer.from('one'));
  await a.flush();
  await until(() => got1.length === 1, 'the first incarnation to get its message');
  await first.close();
  const second = new LinkNodeInbox('b', async () => undefined, { host: '127.0.0.1', port: 0 });
  t.teardown(() => second.close());
  const got2 = await collect(second);
  f.overrides.set('b', second.link!);
  // The old link closes when its peer goes: the next post after that dials the new one.
  await until(async () => {
    a.post('b', Buffer.from('two'));
    await a.flush().catch(() => {});
    return got2.includes('two');
  }, 'the restarted node to be reached');
  t.same(got1, ['one']);
  t.same(await a.stats(), { depth: 0, lagMs: 0 }, 'stats(): nothing waits once every frame was written');
});

t.test('what is not a node is closed without a word, and the inbox goes on', async (t) => {
  const f = linkFleet(t);
  const b = f.node('b');
  const got = await collect(b);
  const [host, port] = b.link!.address.split(':');
  const stranger = connect({ host, port: Number(port) });
  stranger.on('error', () => {});
  stranger.resume(); // reads the hello, and so sees the close
  stranger.write(Buffer.alloc(300, 0xff));
  await new Promise((r) => stranger.once('close', r));
  const a = f.node('a');
  a.post('b', Buffer.from('still here'));
  await a.flush();
  await until(() => got.includes('still here'), 'a real node to get through after the stranger');
});

t.test('connections that never authenticate are bounded (and dropped at connectTimeoutMs); a node still gets through', async (t) => {
  const f = linkFleet(t, { connectTimeoutMs: 1_500 });
  const b = f.node('b');
  const got = await collect(b);
  const [host, port] = b.link!.address.split(':');
  const idle = await Promise.all(Array.from({ length: MAX_UNPROVEN_LINKS + 20 }, () => new Promise<{ closed: boolean }>((resolve) => {
    const s = connect({ host, port: Number(port) });
    const state = { closed: false };
    s.on('error', () => {});
    s.resume();
    s.once('close', () => { state.closed = true; });
    s.once('connect', () => resolve(state));
    t.teardown(() => s.destroy());
  })));
  await until(() => idle.filter((s) => s.closed).length >= 20, 'the connections beyond the bound to be closed at once', 1_000);
  t.equal(idle.filter((s) => s.closed).length, 20, `${MAX_UNPROVEN_LINKS} held, the rest closed`);
  await until(() => idle.every((s) => s.closed), 'the unproven ones dropped at connectTimeoutMs', 5_000);
  const a = f.node('a');
  a.post('b', Buffer.from('through'));
  await a.flush();
  await until(() => got.includes('through'), 'a node to get through after the flood');
});

t.test('a peer that never answers the hello: what waits on the link is lost within connectTimeoutMs', async (t) => {
  const silent = createServer((s) => { s.pause(); });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => silent.close(r)));
  const f = linkFleet(t, { connectTimeoutMs: 300 });
  f.overrides.set('mute', { address: `127.0.0.1:${(silent.address() as AddressInfo).port}`, key: '00'.repeat(32) });
  const a = f.node('a');
  let lost = 0;
  const started = Date.now();
  a.post('mute', Buffer.from('x'), () => lost++);
  await t.rejects(a.flush());
  t.equal(lost, 1);
  t.ok(Date.now() - started < 2000, `within the bound (${Date.now() - started} ms)`);
});

t.test('a peer that accepts the link and then stops reading: beyond maxQueuedBytes posts are lost at once, not held', async (t) => {
  // Speaks the handshake (without checking the MAC), then reads nothing more.
  const held = new Set<Socket>();
  const stuck = createServer((s) => {
    held.add(s);
    s.on('error', () => {});
    s.write(encodeLinkHello(Buffer.alloc(16)));
    s.once('data', () => { s.write(Buffer.of(LINK_ACCEPT)); s.pause(); });
  });
  await new Promise<void>((r) => stuck.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => { for (const s of held) s.destroy(); stuck.close(r); }));
  const f = linkFleet(t, { maxQueuedBytes: 1 << 20 });
  f.overrides.set('stuck', { address: `127.0.0.1:${(stuck.address() as AddressInfo).port}`, key: '00'.repeat(32) });
  const a = f.node('a');
  let lost = 0;
  const chunk = Buffer.alloc(256 << 10);
  for (let turn = 0; turn < 80 && lost === 0; turn++) {
    a.post('stuck', chunk, () => lost++);
    // Resolves once in the kernel; once the kernel's buffers are full it waits, so do not wait for it.
    await new Promise((r) => setImmediate(r));
  }
  t.ok(lost > 0, `posts are lost once more than 1 MiB waits unwritten (lost ${lost})`);
  const stats = await a.stats();
  t.ok(stats.depth > 0 && stats.lagMs >= 0, `stats(): frames not handed to the kernel wait, with their age (${JSON.stringify(stats)})`);
  t.teardown(() => a.close());
});
