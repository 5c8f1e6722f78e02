import type { Payload } from '../protocol/index.js';
import { formatRange, type ProtocolRange } from '../registry/node-protocol.js';

/**
 * The versions of node-to-node messages this build reads and writes. A node announces them in
 * the registry and writes to each node the highest version both speak (src/registry/node-protocol.ts),
 * so nodes of two consecutive releases run side by side; a message of any other version is
 * refused (logged and dropped), never misread. A v2 adds its layout beside v1's in the encoder
 * and the decoder, branching on the version, and raises `max`; a later release drops v1 by raising `min`.
 */
export const NODE_PROTOCOLS: ProtocolRange = Object.freeze({ min: 1, max: 1 });

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
  /** A request from the central side for an object connected here: track it here, answer `origin` with `id`. Tracking -1: pick one. */
  | {
      readonly kind: 'central-request'; readonly uid: string; readonly tracking: number; readonly timeoutMs: number;
      readonly origin: string; readonly id: number; readonly hops: number; readonly payload: Payload;
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

export class NodeMessageError extends Error {
  override readonly name = 'NodeMessageError';
}

/**
 * Bytes of one message in `version` (the one negotiated with its receiver): [version, kind, fields...].
 * Strings are u8-length UTF-8 (UIDs ≤ 16 bytes, node ids ≤ 64, reasons short).
 */
export function encodeNodeMessage(m: NodeMessage, version: number = NODE_PROTOCOL): Buffer {
  if (!speaks(version)) throw new NodeMessageError(`cannot write node protocol ${version}; this node speaks ${formatRange(NODE_PROTOCOLS)}`);
  const w = new Writer();
  w.u8(version).u8(KIND.indexOf(m.kind));
  switch (m.kind) {
    case 'deliver':
      w.str(m.session).u8(m.hops).u8(m.ref ? 1 : 0);
      if (m.ref) w.ref(m.ref);
      return w.bytes(m.bytes).done();
    case 'takeover':
      return w.str(m.uid).str(m.claim).done();
    case 'central-request':
      return w.str(m.uid).i32(m.tracking).u32(m.timeoutMs).str(m.origin).u32(m.id).u8(m.hops).payload(m.payload).done();
    case 'origin-response':
      return w.u32(m.id).str(m.uid).u16(m.tracking).u8(m.code).str(m.reason).payload(m.payload).done();
    case 'tracker-response':
      return w.u8(m.dir === 'up' ? 1 : 0).str(m.uid).u16(m.tracking).u8(m.code).payload(m.payload).done();
    case 'tracker-fail':
      return w.u8(m.dir === 'up' ? 1 : 0).str(m.uid).u16(m.tracking).str(m.reason).done();
    case 'end-session':
      return w.str(m.uid).u8(m.code).str(m.reason).done();
    case 'moved':
      return w.str(m.uid).done();
    case 'buffered':
      return w.str(m.session).u8(m.dir === 'up' ? 1 : 0).str(m.uid).u16(m.tracking).done();
  }
}

/** The inverse; throws NodeMessageError on another version or a torn message (the caller logs it, never misreads). */
export function decodeNodeMessage(b: Buffer): NodeMessage {
  const r = new Reader(b);
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
    case 'central-request':
      m = { kind, uid: r.str(), tracking: r.i32(), timeoutMs: r.u32(), origin: r.str(), id: r.u32(), hops: r.u8(), payload: r.payload() };
      break;
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
      throw new NodeMessageError(`unknown node message kind ${b[1]}`);
  }
  r.end();
  return m;
}

function speaks(version: number): boolean {
  return version >= NODE_PROTOCOLS.min && version <= NODE_PROTOCOLS.max;
}

/** One scratch buffer for every message (encoding is synchronous): each message costs one allocation, its copy. */
let scratch = Buffer.allocUnsafe(64 * 1024);

class Writer {
  #o = 0;
  #room(n: number): number {
    const at = this.#o;
    if (at + n > scratch.length) {
      const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, at + n));
      scratch.copy(bigger, 0, 0, at);
      scratch = bigger;
    }
    this.#o += n;
    return at;
  }
  u8(v: number): this {
    scratch[this.#room(1)] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    scratch.writeUInt16BE(v, this.#room(2));
    return this;
  }
  u32(v: number): this {
    scratch.writeUInt32BE(v >>> 0, this.#room(4));
    return this;
  }
  i32(v: number): this {
    scratch.writeInt32BE(v, this.#room(4));
    return this;
  }
  str(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    if (n > 255) throw new NodeMessageError(`node message string too long (${n} bytes)`);
    const at = this.#room(1 + n);
    scratch[at] = n;
    scratch.write(s, at + 1, n, 'utf8');
    return this;
  }
  bytes(b: Buffer): this {
    const at = this.#room(4 + b.length);
    scratch.writeUInt32BE(b.length, at);
    b.copy(scratch, at + 4);
    return this;
  }
  ref(r: TrackRef): this {
    return this.u8(r.dir === 'up' ? 1 : 0).str(r.uid).u16(r.tracking).str(r.node).str(r.run).f64(r.expiresAt);
  }
  f64(v: number): this {
    scratch.writeDoubleBE(v, this.#room(8));
    return this;
  }
  payload(p: Payload): this {
    return this.u8(p.format).u8(p.options).bytes(p.data);
  }
  done(): Buffer {
    const out = Buffer.allocUnsafe(this.#o);
    scratch.copy(out, 0, 0, this.#o);
    return out;
  }
}

class Reader {
  #o = 0;
  constructor(readonly b: Buffer) {}
  #take(n: number): number {
    const at = this.#o;
    if (at + n > this.b.length) throw new NodeMessageError('torn node message');
    this.#o += n;
    return at;
  }
  u8(): number {
    return this.b[this.#take(1)]!;
  }
  u16(): number {
    return this.b.readUInt16BE(this.#take(2));
  }
  u32(): number {
    return this.b.readUInt32BE(this.#take(4));
  }
  i32(): number {
    return this.b.readInt32BE(this.#take(4));
  }
  str(): string {
    const n = this.u8();
    return this.b.toString('utf8', this.#take(n), this.#o);
  }
  bytes(): Buffer {
    const n = this.u32();
    const at = this.#take(n);
    const out = Buffer.allocUnsafe(n); // a copy: the batch it came in can be freed
    this.b.copy(out, 0, at, at + n);
    return out;
  }
  dir(): 'down' | 'up' {
    return this.u8() === 1 ? 'up' : 'down';
  }
  ref(): TrackRef {
    return { dir: this.dir(), uid: this.str(), tracking: this.u16(), node: this.str(), run: this.str(), expiresAt: this.b.readDoubleBE(this.#take(8)) };
  }
  payload(): Payload {
    const format = this.u8();
    const options = this.u8();
    return { format, options, data: this.bytes() };
  }
  end(): void {
    if (this.#o !== this.b.length) throw new NodeMessageError(`node message: ${this.b.length - this.#o} bytes left over`);
  }
}
