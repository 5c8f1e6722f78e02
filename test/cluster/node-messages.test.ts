import t from 'tap';
import {
  NODE_PROTOCOL, NODE_PROTOCOLS, decodeNodeMessage, encodeCentralRequestInto, encodeNodeMessage, encodeNodeMessageInto, encodeOriginResponseInto,
  type CentralRequestMessage, type NodeMessage, type OriginResponseMessage,
} from '../../src/cluster/node-messages.js';
import { sinkRoom, type ByteSink } from '../../src/registry/node-inbox.js';

const payload = { format: 0x0a, options: 0, data: Buffer.from('{"a":1}') };
const samples: NodeMessage[] = [
  { kind: 'deliver', session: '', hops: 0, bytes: Buffer.from([0x30, 1, 2]) },
  { kind: 'deliver', session: 'dev-1', hops: 2, ref: { dir: 'up', uid: 'dev-1', tracking: 65535, node: 'node.a-1', run: '1f2e3d4c', expiresAt: 1796172466840.5 }, bytes: Buffer.alloc(70_000, 7) },
  { kind: 'takeover', uid: 'ü{}:x', claim: 'a.1f2e.3' },
  { kind: 'central-request', uid: 'dev-2', tracking: -1, timeoutMs: 30_000, origin: 'b', id: 4_294_967_295, hops: 1, payload, expiresAt: 1796172466840.5 },
  { kind: 'origin-response', id: 7, uid: 'dev-2', tracking: 513, code: 0xa0, reason: 'node-lost', payload },
  { kind: 'tracker-response', dir: 'down', uid: 'dev-3', tracking: 0, code: 0, payload: { format: 0, options: 3, data: Buffer.alloc(0) } },
  { kind: 'tracker-fail', dir: 'up', uid: 'dev-4', tracking: 9, reason: 'session-ended' },
  { kind: 'end-session', uid: 'dev-5', code: 1, reason: 'revoked' },
  { kind: 'moved', uid: 'dev-6' },
  { kind: 'buffered', session: '', dir: 'up', uid: 'dev-7', tracking: 3 },
];

t.test('every kind of node message reads back as written', async (t) => {
  for (const m of samples) t.same(decodeNodeMessage(encodeNodeMessage(m)), m, m.kind);
});

t.test('every kind reads back as written in version 1 too (a node of the previous release): a central-request without its deadline', async (t) => {
  const q = samples[3] as Extract<NodeMessage, { kind: 'central-request' }>;
  const { expiresAt: _, ...undated } = q;
  for (const m of samples) t.same(decodeNodeMessage(encodeNodeMessage(m, 1)), m === q ? undated : m, m.kind);
  t.equal(encodeNodeMessage(q, 2).length, encodeNodeMessage(q, 1).length + 8, 'version 2 adds the deadline (8 bytes), nothing else');
  t.same(decodeNodeMessage(encodeNodeMessage(undated, 2)), { ...undated, expiresAt: Infinity }, 'a central-request without a deadline, in 2: none (+Infinity)');
});

t.test('another version, a torn message or bytes left over are refused, never misread', async (t) => {
  const good = encodeNodeMessage(samples[3]!);
  const other = Buffer.from(good);
  other[0] = NODE_PROTOCOL + 1;
  t.throws(() => decodeNodeMessage(other), { name: 'NodeMessageError', message: `node message of protocol ${NODE_PROTOCOL + 1}; this node speaks 1..2` });
  for (let n = 0; n < good.length; n++) t.throws(() => decodeNodeMessage(good.subarray(0, n)), { name: 'NodeMessageError' }, `cut at ${n}`);
  t.throws(() => decodeNodeMessage(Buffer.concat([good, Buffer.of(0)])), /1 bytes left over/);
  t.throws(() => decodeNodeMessage(Buffer.of(NODE_PROTOCOL, 99)), /unknown node message kind 99/);
});

t.test('a message is written in the version negotiated with its receiver, and only in one this build speaks', async (t) => {
  const m = samples[3]!;
  t.equal(encodeNodeMessage(m, NODE_PROTOCOLS.min)[0], NODE_PROTOCOLS.min);
  t.same(encodeNodeMessage(m), encodeNodeMessage(m, NODE_PROTOCOL), 'by default the newest');
  t.throws(() => encodeNodeMessage(m, NODE_PROTOCOLS.max + 1), { name: 'NodeMessageError', message: /cannot write node protocol 3; this node speaks 1\.\.2/ });
  t.throws(() => encodeNodeMessage(m, NODE_PROTOCOLS.min - 1), { name: 'NodeMessageError' });
});

t.test("a decoded message reads its bytes and payload in place (views, no copy), as a connection's parser reads payloads; every inbox hands over bytes of their own per read", async (t) => {
  const wire = encodeNodeMessage(samples[0]!);
  const m = decodeNodeMessage(wire) as Extract<NodeMessage, { kind: 'deliver' }>;
  t.same([...m.bytes], [0x30, 1, 2]);
  t.equal(m.bytes.buffer, wire.buffer, 'the deliver bytes are a view of the message read');
  const framed = Buffer.concat([Buffer.from([9, 9]), encodeNodeMessage({ kind: 'origin-response', id: 7, uid: 'dev-1', tracking: 3, code: 0, reason: '', payload: { format: 1, options: 0, data: Buffer.from('hi') } }), Buffer.from([9])]);
  const r = decodeNodeMessage(framed, 2, framed.length - 1) as Extract<NodeMessage, { kind: 'origin-response' }>;
  t.equal(r.payload.data.toString(), 'hi');
  t.equal(r.payload.data.buffer, framed.buffer, 'a payload is a view of the frame it came in');
  t.equal(r.payload.data.byteOffset, framed.byteOffset + framed.length - 1 - 2, 'at its place in the frame');
});

t.test('written in place (a frame being built), a message has the same bytes, wherever it starts and however small the buffer', async (t) => {
  // A 1-byte buffer grows at nearly every field: a field written to the buffer it replaced is lost.
  const sink: ByteSink = { buf: Buffer.alloc(1), length: 0 };
  const at: number[] = [];
  for (const m of samples) {
    const mark = sinkRoom(sink, 1); // a byte of the frame before it, kept
    sink.buf[mark] = 0xee;
    at.push(sink.length);
    encodeNodeMessageInto(m, NODE_PROTOCOL, sink);
  }
  at.push(sink.length + 1);
  samples.forEach((m, i) => {
    t.same(sink.buf.subarray(at[i]!, at[i + 1]! - 1), encodeNodeMessage(m), m.kind);
    t.equal(sink.buf[at[i]! - 1], 0xee, `${m.kind}: the byte before it is intact`);
    t.same(decodeNodeMessage(sink.buf, at[i]!, at[i + 1]! - 1), m, `${m.kind}: read back in place`);
  });
});

t.test('a message that cannot be written leaves the frame as it was', async (t) => {
  const sink: ByteSink = { buf: Buffer.alloc(8), length: 3 };
  const long = 'x'.repeat(300);
  t.throws(() => encodeNodeMessageInto({ kind: 'end-session', uid: 'dev-1', code: 1, reason: long }, NODE_PROTOCOL, sink), { name: 'NodeMessageError', message: /too long \(300 bytes\)/ });
  t.equal(sink.length, 3);
  t.throws(() => encodeNodeMessageInto({ kind: 'moved', uid: 'é'.repeat(130) }, NODE_PROTOCOL, sink), /too long \(260 bytes\)/, 'counted in UTF-8 bytes');
  t.throws(() => encodeNodeMessageInto({ kind: 'buffered', session: 's', dir: 'up', uid: 'u', tracking: 70_000 }, NODE_PROTOCOL, sink), /out of range/);
  t.equal(sink.length, 3);
  t.throws(() => encodeNodeMessageInto(samples[0]!, NODE_PROTOCOL + 1, sink), /cannot write node protocol/);
  t.equal(sink.length, 3);
});

t.test('strings read back right when many different ones come (the read cache only ever returns its own bytes)', async (t) => {
  const seen = new Map<string, Buffer>();
  for (let i = 0; i < 5_000; i++) {
    const uid = i % 3 === 0 ? `d${i}` : i % 3 === 1 ? `dev-${(i * 7919) % 1000}-ü` : `${'z'.repeat(i % 30)}${i}`;
    seen.set(uid, encodeNodeMessage({ kind: 'moved', uid }));
  }
  for (const [uid, wire] of seen) t.equal((decodeNodeMessage(wire) as { uid: string }).uid, uid);
  t.equal((decodeNodeMessage(Buffer.of(NODE_PROTOCOL, 7, 0)) as { uid: string }).uid, '');
});

t.test("a cross-node request's own encoders write the general encoder's bytes, at any offset, in any buffer, and throw where it throws", async (t) => {
  const data = Buffer.from('{"a":1}');
  const crs: CentralRequestMessage[] = [
    { kind: 'central-request', uid: 'dev-2', tracking: -1, timeoutMs: 30_000, origin: 'b', id: 4_294_967_295, hops: 1, payload: { format: 0x0a, options: 0, data }, expiresAt: 1796172466840.5 },
    { kind: 'central-request', uid: 'dev-2', tracking: 65_535, timeoutMs: 0, origin: 'node.a-1', id: 0, hops: 3, payload: { format: 0, options: 7, data: Buffer.alloc(0) } },
    { kind: 'central-request', uid: 'ü{}:x', tracking: 5, timeoutMs: 1, origin: 'b', id: 1, hops: 1, payload: { format: 1, options: 0, data }, expiresAt: 5 },
    { kind: 'central-request', uid: 'dev-2', tracking: 5, timeoutMs: 1, origin: 'nœud', id: 1, hops: 1, payload: { format: 1, options: 0, data: Buffer.alloc(70_000, 3) } },
  ];
  const ors: OriginResponseMessage[] = [
    { kind: 'origin-response', id: 7, uid: 'dev-2', tracking: 513, code: 0xa0, reason: 'node-lost', payload: { format: 0x0a, options: 0, data } },
    { kind: 'origin-response', id: 4_294_967_295, uid: 'dev-2', tracking: 0, code: 0, reason: '', payload: { format: 0, options: 0, data: Buffer.alloc(0) } },
    { kind: 'origin-response', id: 1, uid: 'ü{}:x', tracking: 65_535, code: 0, reason: '', payload: { format: 1, options: 2, data } },
    { kind: 'origin-response', id: 1, uid: 'dev-2', tracking: 9, code: 0, reason: 'raison ©', payload: { format: 1, options: 2, data } },
  ];
  const own = (m: NodeMessage, version: number, size: number, offset: number): Buffer => {
    const sink: ByteSink = { buf: Buffer.alloc(size, 0xee), length: 0 };
    sinkRoom(sink, offset);
    if (m.kind === 'central-request') encodeCentralRequestInto(m, version, sink);
    else if (m.kind === 'origin-response') encodeOriginResponseInto(m, version, sink);
    return Buffer.from(sink.buf.subarray(offset, sink.length));
  };
  for (let version = NODE_PROTOCOLS.min; version <= NODE_PROTOCOLS.max; version++) {
    for (const m of [...crs, ...ors]) {
      for (const [size, offset] of [[1, 0], [1, 3], [4096, 17]] as const) {
        t.equal(own(m, version, size, offset).toString('hex'), encodeNodeMessage(m, version).toString('hex'), `v${version} ${m.kind} ${m.uid} (buffer ${size}, at ${offset})`);
      }
      t.same(decodeNodeMessage(own(m, version, 1, 0)), decodeNodeMessage(encodeNodeMessage(m, version)), `v${version} ${m.kind} reads back as the general encoder's`);
    }
  }
  const sink: ByteSink = { buf: Buffer.alloc(64), length: 5 };
  t.throws(() => encodeOriginResponseInto({ ...ors[0]!, tracking: 70_000 }, NODE_PROTOCOL, sink), { name: 'NodeMessageError', message: /out of range \(u16 70000\)/ });
  t.throws(() => encodeCentralRequestInto({ ...crs[0]!, tracking: 2 ** 31 }, NODE_PROTOCOL, sink), { name: 'NodeMessageError', message: /out of range/ });
  t.throws(() => encodeCentralRequestInto({ ...crs[0]!, uid: 'x'.repeat(300) }, NODE_PROTOCOL, sink), { name: 'NodeMessageError', message: /too long/ });
  t.throws(() => encodeCentralRequestInto(crs[0]!, NODE_PROTOCOLS.max + 1, sink), { name: 'NodeMessageError', message: /cannot write node protocol/ });
  t.equal(sink.length, 5, 'a throw leaves the sink where the message began');
});
