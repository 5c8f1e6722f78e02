import type { Payload } from '../protocol/index.js';
import { sinkRoom, type ByteSink } from '../registry/node-inbox.js';
import { formatRange, type ProtocolRange } from '../registry/node-protocol.js';

/**
 * The versions of node-to-node messages this build reads and writes. A node announces them in
 * the registry and writes to each node the highest version both speak (src/registry/node-protocol.ts),
 * so nodes of two consecutive releases run side by side; a message of any other version is
 * refused (logged and dropped), never misread. A version adds its layout beside the previous one's
 * in the encoder and the decoder, branching on the version, and raises `max`; a later release
 * drops the old one by raising `min`.
 *
 * 2: a `central-request` carries its deadline (`expiresAt`, wall-clock ms), as a `deliver`'s
 * TrackRef does, so that one read after its origin gave up is dropped, never handed to the object.
 * Written in 1 (to a node of the previous release), it goes without: the relative timeout only.
 */
export const NODE_PROTOCOLS: ProtocolRange = Object.freeze({ min: 1, max: 2 });

/** The newest version this build speaks. */
export const NODE_PROTOCOL = NODE_PROTOCOLS.max;

/** Where a request is tracked, by value: `node`'s tracker holds (dir, uid, tracking). */
export interface TrackRef {
  readonly dir: 'down' | 'up';
  /** The object's UID (for 'up', the request travels to the central with it). */
  readonly uid: string;
  readonly tracking: number;
  readonly node: string;
  /** The tracking node's run (lease incarnation): a node restarted with the same id tracks none of its previous run's requests. */
  readonly run: string;
  /** Wall-clock ms of the request's timeout: past it, its origin was answered 0xA1, so it is never delivered. */
  readonly expiresAt: number;
}

/** What one node hands another through its inbox (NodeInbox: batched, ordered per sender, at most once). */
export type NodeMessage =
  /** Write `bytes` (one encoded transmission) to the connection of session `session` if it is here; else route it as arriving after that connection closed. */
  | { readonly kind: 'deliver'; readonly session: string; readonly hops: number; readonly ref?: TrackRef; readonly bytes: Buffer }
  /** A newer connection on the sender claimed `uid` (PROTOCOL §3 step 7): Close 0xA1 to the connection here. */
  | { readonly kind: 'takeover'; readonly uid: string; readonly claim: string }
  /**
   * A request from the central side for an object connected here: track it here, answer `origin` with `id`. Tracking -1: pick one.
   * `expiresAt` (protocol 2; absent from a node speaking 1; +Infinity: none): wall-clock ms past which its origin was answered 0xA1, so it is never delivered.
   */
  | {
      readonly kind: 'central-request'; readonly uid: string; readonly tracking: number; readonly timeoutMs: number;
      readonly origin: string; readonly id: number; readonly hops: number; readonly payload: Payload; readonly expiresAt?: number;
    }
  /** The one answer to the sender's `central-request` `id` (`reason`: the code was generated, '' otherwise). */
  | {
      readonly kind: 'origin-response'; readonly id: number; readonly uid: string; readonly tracking: number;
      readonly code: number; readonly reason: string; readonly payload: Payload;
    }
  /** A response to a request this node tracks (it was delivered through another node). */
  | { readonly kind: 'tracker-response'; readonly dir: 'down' | 'up'; readonly uid: string; readonly tracking: number; readonly code: number; readonly payload: Payload }
  /** A request this node tracks was dropped undelivered elsewhere: answer its origin with 0xA0 and `reason`. */
  | { readonly kind: 'tracker-fail'; readonly dir: 'down' | 'up'; readonly uid: string; readonly tracking: number; readonly reason: string }
  /** A request this node tracks now waits in `session`'s kept buffer: once answered, take it out. */
  | { readonly kind: 'buffered'; readonly session: string; readonly dir: 'down' | 'up'; readonly uid: string; readonly tracking: number }
  /** `uid` is now held elsewhere than before: drop any route to it. */
  | { readonly kind: 'moved'; readonly uid: string }
  /** End the session of `uid` held here (revocation, admin), with Close `code`. */
  | { readonly kind: 'end-session'; readonly uid: string; readonly code: number; readonly reason: string };

const KIND = ['deliver', 'takeover', 'central-request', 'origin-response', 'tracker-response', 'tracker-fail', 'end-session', 'moved', 'buffered'] as const;
const KIND_CODE = Object.fromEntries(KIND.map((k, i) => [k, i])) as Record<NodeMessage['kind'], number>;

export class NodeMessageError extends Error {
  override readonly name = 'NodeMessageError';
}

/**
 * Bytes of one message in `version` (the one negotiated with its receiver): [version, kind, fields...].
 * Strings are u8-length UTF-8 (UIDs ≤ 16 bytes, node ids ≤ 64, reasons short).
 */
export function encodeNodeMessage(m: NodeMessage, version: number = NODE_PROTOCOL): Buffer {
  scratch.length = 0;
  encodeNodeMessageInto(m, version, scratch);
  const out = Buffer.allocUnsafe(scratch.length);
  out.set(scratch.buf.subarray(0, scratch.length));
  return out;
}

/**
 * The same bytes written in place at `s.length` (a node link's frame being built): no Buffer of
 * the message's own. On a throw `s.length` is back where the message began.
 */
export function encodeNodeMessageInto(m: NodeMessage, version: number, s: ByteSink): void {
  if (!speaks(version)) throw new NodeMessageError(`cannot write node protocol ${version}; this node speaks ${formatRange(NODE_PROTOCOLS)}`);
  const start = s.length;
  try {
    writeFields(m, version, s);
  } catch (err) {
    s.length = start;
    throw err;
  }
}

/** An encoder of messages of type M (encodeNodeMessageInto, or a kind's own). */
export type MessageEncoderFor<M extends NodeMessage> = (m: M, version: number, s: ByteSink) => void;

export type CentralRequestMessage = Extract<NodeMessage, { kind: 'central-request' }>;
export type OriginResponseMessage = Extract<NodeMessage, { kind: 'origin-response' }>;

/** The versions whose layouts the two fast encoders write (2 adds a central-request's deadline): any other goes the general way until they learn it. */
const FAST_LAYOUT_MIN = 1;
const FAST_LAYOUT_MAX = 2;

/**
 * encodeNodeMessageInto for the two messages of every cross-node request, the same bytes: one
 * room reserved for the whole message and its bytes stored in a row (the general encoder reserves
 * per field and reads its message's fields through a switch over nine kinds). Anything the fast
 * layout does not cover (a non-ASCII or long string, a field out of range) goes the general way,
 * which writes it or throws as it always did.
 */
export function encodeCentralRequestInto(m: CentralRequestMessage, version: number, s: ByteSink): void {
  const uid = m.uid;
  const origin = m.origin;
  const data = m.payload.data;
  const tracking = m.tracking;
  if (!(version >= FAST_LAYOUT_MIN && version <= FAST_LAYOUT_MAX) || uid.length > 255 || origin.length > 255 || !(tracking >= -0x80000000 && tracking <= 0x7fffffff)) {
    return encodeNodeMessageInto(m, version, s);
  }
  const start = s.length;
  const deadline = version >= 2 ? 8 : 0;
  const at = sinkRoom(s, 2 + 1 + uid.length + 8 + 1 + origin.length + 4 + 1 + 2 + 4 + data.length + deadline);
  const b = s.buf;
  b[at] = version;
  b[at + 1] = KIND_CODE['central-request'];
  let o = putAscii(b, at + 2, uid);
  if (o < 0) return generalFrom(m, version, s, start);
  putU32(b, o, tracking >>> 0);
  putU32(b, o + 4, m.timeoutMs >>> 0);
  o = putAscii(b, o + 8, origin);
  if (o < 0) return generalFrom(m, version, s, start);
  putU32(b, o, m.id >>> 0);
  b[o + 4] = m.hops;
  putPayload(b, o + 5, m.payload.format, m.payload.options, data);
  // 2: the deadline after the payload (+Infinity: none), as the general encoder writes it.
  if (deadline > 0) b.writeDoubleBE(m.expiresAt ?? Infinity, o + 5 + 6 + data.length);
}

/** As encodeCentralRequestInto, for an origin-response. */
export function encodeOriginResponseInto(m: OriginResponseMessage, version: number, s: ByteSink): void {
  const uid = m.uid;
  const reason = m.reason;
  const data = m.payload.data;
  const tracking = m.tracking;
  if (!(version >= FAST_LAYOUT_MIN && version <= FAST_LAYOUT_MAX) || uid.length > 255 || reason.length > 255 || !(tracking >= 0 && tracking <= 0xffff)) {
    return encodeNodeMessageInto(m, version, s);
  }
  const start = s.length;
  const at = sinkRoom(s, 2 + 4 + 1 + uid.length + 2 + 1 + 1 + reason.length + 2 + 4 + data.length);
  const b = s.buf;
  b[at] = version;
  b[at + 1] = KIND_CODE['origin-response'];
  putU32(b, at + 2, m.id >>> 0);
  let o = putAscii(b, at + 6, uid);
  if (o < 0) return generalFrom(m, version, s, start);
  b[o] = tracking >>> 8;
  b[o + 1] = tracking;
  b[o + 2] = m.code;
  o = putAscii(b, o + 3, reason);
  if (o < 0) return generalFrom(m, version, s, start);
  putPayload(b, o, m.payload.format, m.payload.options, data);
}

/** The fast layout met a string it does not store: the message is written again from `start`, the general way. */
function generalFrom(m: NodeMessage, version: number, s: ByteSink, start: number): void {
  s.length = start;
  encodeNodeMessageInto(m, version, s);
}

/** `v` (at most 255 characters) as a u8 length and its bytes at `at`, when it is ASCII: where the next field goes; -1 when it is not. */
function putAscii(b: Buffer, at: number, v: string): number {
  const n = v.length;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c >= 0x80) return -1;
    b[at + 1 + i] = c;
  }
  b[at] = n;
  return at + 1 + n;
}

function putU32(b: Buffer, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

function putPayload(b: Buffer, at: number, format: number, options: number, data: Buffer): void {
  b[at] = format;
  b[at + 1] = options;
  putU32(b, at + 2, data.length);
  b.set(data, at + 6);
}

function writeFields(m: NodeMessage, version: number, s: ByteSink): void {
  u8(s, version);
  u8(s, KIND_CODE[m.kind]);
  switch (m.kind) {
    case 'deliver':
      str(s, m.session);
      u8(s, m.hops);
      u8(s, m.ref ? 1 : 0);
      if (m.ref) ref(s, m.ref);
      return bytes(s, m.bytes);
    case 'takeover':
      str(s, m.uid);
      return str(s, m.claim);
    case 'central-request':
      str(s, m.uid);
      i32(s, m.tracking);
      u32(s, m.timeoutMs);
      str(s, m.origin);
      u32(s, m.id);
      u8(s, m.hops);
      payload(s, m.payload);
      // 2: the deadline after the payload (+Infinity: none); 1 has no room for it.
      if (version >= 2) f64(s, m.expiresAt ?? Infinity);
      return;
    case 'origin-response':
      u32(s, m.id);
      str(s, m.uid);
      u16(s, m.tracking);
      u8(s, m.code);
      str(s, m.reason);
      return payload(s, m.payload);
    case 'tracker-response':
      u8(s, m.dir === 'up' ? 1 : 0);
      str(s, m.uid);
      u16(s, m.tracking);
      u8(s, m.code);
      return payload(s, m.payload);
    case 'tracker-fail':
      u8(s, m.dir === 'up' ? 1 : 0);
      str(s, m.uid);
      u16(s, m.tracking);
      return str(s, m.reason);
    case 'end-session':
      str(s, m.uid);
      u8(s, m.code);
      return str(s, m.reason);
    case 'moved':
      return str(s, m.uid);
    case 'buffered':
      str(s, m.session);
      u8(s, m.dir === 'up' ? 1 : 0);
      str(s, m.uid);
      return u16(s, m.tracking);
  }
}

/**
 * The inverse, of `b` or of its bytes [start, end) (a message read in place in the frame it came
 * in); throws NodeMessageError on another version or a torn message (the caller logs it, never misreads).
 */
export function decodeNodeMessage(b: Buffer, start = 0, end = b.length): NodeMessage {
  try {
    return readMessage(reader.reset(b, start, end));
  } finally {
    reader.b = NO_BYTES; // the frame it read is not kept alive by the reader
  }
}

function readMessage(r: Reader): NodeMessage {
  const version = r.u8();
  if (!speaks(version)) throw new NodeMessageError(`node message of protocol ${version}; this node speaks ${formatRange(NODE_PROTOCOLS)}`);
  const kind = KIND[r.u8()];
  let m: NodeMessage;
  switch (kind) {
    case 'deliver': {
      const session = r.str();
      const hops = r.u8();
      const ref = r.u8() === 1 ? r.ref() : undefined;
      m = ref ? { kind, session, hops, ref, bytes: r.bytes() } : { kind, session, hops, bytes: r.bytes() };
      break;
    }
    case 'takeover':
      m = { kind, uid: r.str(), claim: r.str() };
      break;
    case 'central-request': {
      const uid = r.str(), tracking = r.i32(), timeoutMs = r.u32(), origin = r.str(), id = r.u32(), hops = r.u8(), payload = r.payload();
      m = version >= 2
        ? { kind, uid, tracking, timeoutMs, origin, id, hops, payload, expiresAt: r.f64() }
        : { kind, uid, tracking, timeoutMs, origin, id, hops, payload };
      break;
    }
    case 'origin-response':
      m = { kind, id: r.u32(), uid: r.str(), tracking: r.u16(), code: r.u8(), reason: r.str(), payload: r.payload() };
      break;
    case 'tracker-response':
      m = { kind, dir: r.dir(), uid: r.str(), tracking: r.u16(), code: r.u8(), payload: r.payload() };
      break;
    case 'tracker-fail':
      m = { kind, dir: r.dir(), uid: r.str(), tracking: r.u16(), reason: r.str() };
      break;
    case 'end-session':
      m = { kind, uid: r.str(), code: r.u8(), reason: r.str() };
      break;
    case 'moved':
      m = { kind, uid: r.str() };
      break;
    case 'buffered':
      m = { kind, session: r.str(), dir: r.dir(), uid: r.str(), tracking: r.u16() };
      break;
    default:
      throw new NodeMessageError(`unknown node message kind ${r.kindByte()}`);
  }
  r.end();
  return m;
}

function speaks(version: number): boolean {
  return version >= NODE_PROTOCOLS.min && version <= NODE_PROTOCOLS.max;
}

/** Where encodeNodeMessage writes before copying out (encoding is synchronous). */
const scratch: ByteSink = { buf: Buffer.allocUnsafe(64 * 1024), length: 0 };

// The writers: plain functions on the sink (no object per message), byte stores rather than
// Buffer's write methods (their argument checks and encoding lookup cost more than the write).

// Each reserves its room first and reads `s.buf` after: reserving may replace the buffer.

function u8(s: ByteSink, v: number): void {
  const at = sinkRoom(s, 1);
  s.buf[at] = v;
}

function u16(s: ByteSink, v: number): void {
  if (!(v >= 0 && v <= 0xffff)) throw new NodeMessageError(`node message field out of range (u16 ${v})`);
  const at = sinkRoom(s, 2);
  const b = s.buf;
  b[at] = v >>> 8;
  b[at + 1] = v;
}

function u32(s: ByteSink, v: number): void {
  put32(s, v >>> 0);
}

function i32(s: ByteSink, v: number): void {
  if (!(v >= -0x80000000 && v <= 0x7fffffff)) throw new NodeMessageError(`node message field out of range (i32 ${v})`);
  put32(s, v);
}

function put32(s: ByteSink, v: number): void {
  const at = sinkRoom(s, 4);
  putU32(s.buf, at, v);
}

function f64(s: ByteSink, v: number): void {
  const at = sinkRoom(s, 8);
  s.buf.writeDoubleBE(v, at);
}

function str(s: ByteSink, v: string): void {
  const n = v.length;
  if (n <= 255) {
    // ASCII (UIDs, node ids, reasons): one byte per character, stored as it is read.
    const at = sinkRoom(s, 1 + n);
    if (putAscii(s.buf, at, v) >= 0) return;
    s.length = at;
  }
  const len = Buffer.byteLength(v, 'utf8');
  if (len > 255) throw new NodeMessageError(`node message string too long (${len} bytes)`);
  const at = sinkRoom(s, 1 + len);
  s.buf[at] = len;
  s.buf.write(v, at + 1, len, 'utf8');
}

function bytes(s: ByteSink, v: Buffer): void {
  u32(s, v.length);
  const at = sinkRoom(s, v.length);
  s.buf.set(v, at);
}

function ref(s: ByteSink, r: TrackRef): void {
  u8(s, r.dir === 'up' ? 1 : 0);
  str(s, r.uid);
  u16(s, r.tracking);
  str(s, r.node);
  str(s, r.run);
  f64(s, r.expiresAt);
}

function payload(s: ByteSink, p: Payload): void {
  const at = sinkRoom(s, 6 + p.data.length);
  putPayload(s.buf, at, p.format, p.options, p.data);
}

/**
 * Recent short strings read (UIDs, node ids), by their bytes: the same UID comes back in every
 * message for it, and the string found here is one V8 has hashed already (the maps it keys).
 * Direct-mapped, checked byte for byte: a slot taken by another string is only a miss.
 */
const STR_CACHE_SLOTS = 256;
const STR_CACHE_MAX = 24;
const strCacheBytes = Buffer.alloc(STR_CACHE_SLOTS * STR_CACHE_MAX);
const strCacheLen = new Uint8Array(STR_CACHE_SLOTS);
const strCache: string[] = new Array<string>(STR_CACHE_SLOTS).fill('');

function readStr(b: Buffer, at: number, n: number): string {
  if (n === 0) return '';
  if (n > STR_CACHE_MAX) return b.toString('utf8', at, at + n);
  let h = n;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[at + i]!, 0x01000193);
  const slot = (h ^ (h >>> 16)) & (STR_CACHE_SLOTS - 1);
  const base = slot * STR_CACHE_MAX;
  if (strCacheLen[slot] === n) {
    let i = 0;
    while (i < n && strCacheBytes[base + i] === b[at + i]) i++;
    if (i === n) return strCache[slot]!;
  }
  const v = b.toString('utf8', at, at + n);
  b.copy(strCacheBytes, base, at, at + n);
  strCacheLen[slot] = n;
  strCache[slot] = v;
  return v;
}

const NO_BYTES = Buffer.alloc(0);

class Reader {
  b: Buffer = NO_BYTES;
  #start = 0;
  #o = 0;
  #end = 0;
  reset(b: Buffer, start: number, end: number): this {
    this.b = b;
    this.#start = start;
    this.#o = start;
    this.#end = end;
    return this;
  }
  kindByte(): number | undefined {
    return this.b[this.#start + 1];
  }
  #take(n: number): number {
    const at = this.#o;
    if (at + n > this.#end) throw new NodeMessageError('torn node message');
    this.#o += n;
    return at;
  }
  u8(): number {
    return this.b[this.#take(1)]!;
  }
  u16(): number {
    const at = this.#take(2);
    return (this.b[at]! << 8) | this.b[at + 1]!;
  }
  u32(): number {
    const at = this.#take(4);
    const b = this.b;
    return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  }
  i32(): number {
    return this.u32() | 0;
  }
  str(): string {
    const n = this.u8();
    return readStr(this.b, this.#take(n), n);
  }
  bytes(): Buffer {
    const n = this.u32();
    const at = this.#take(n);
    // A view into the frame, not a copy, as a device connection's parser reads payloads (its
    // chunk): what holds the bytes a while (a connection's queue, a webhook) pins that read's
    // chunk as a device's payload would; kept buffers and re-routes encode a copy of their own.
    return this.b.subarray(at, at + n);
  }
  dir(): 'down' | 'up' {
    return this.u8() === 1 ? 'up' : 'down';
  }
  f64(): number {
    return this.b.readDoubleBE(this.#take(8));
  }
  ref(): TrackRef {
    return { dir: this.dir(), uid: this.str(), tracking: this.u16(), node: this.str(), run: this.str(), expiresAt: this.f64() };
  }
  payload(): Payload {
    const format = this.u8();
    const options = this.u8();
    return { format, options, data: this.bytes() };
  }
  end(): void {
    if (this.#o !== this.#end) throw new NodeMessageError(`node message: ${this.#end - this.#o} bytes left over`);
  }
}

/** The one reader (decoding is synchronous): no object per message. */
const reader = new Reader();
