import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The bytes of a node link (one TCP connection from a sender node to a receiver node, carrying
 * node messages one way). Pure: bytes in, values out.
 *
 *   receiver → sender   hello:  'IOTL', u8 version, 16-byte challenge
 *   sender → receiver   auth:   u8 length + sender node id, HMAC-SHA256(receiver's link key, challenge ‖ node id)
 *   receiver → sender   accept: 0x01 (or the receiver closes)
 *   sender → receiver   frames: u32 BE length + a packed batch (registry/node-inbox.ts packBatch), repeated
 *
 * The receiver's link key is announced with its lease in the engine (Redis): whoever may read the
 * cluster's engine may talk to its nodes, nobody else.
 */
export const LINK_MAGIC = Buffer.from('IOTL');
export const LINK_VERSION = 1;
export const LINK_CHALLENGE_BYTES = 16;
export const LINK_HELLO_BYTES = LINK_MAGIC.length + 1 + LINK_CHALLENGE_BYTES;
export const LINK_MAC_BYTES = 32;
export const LINK_ACCEPT = 0x01;
/** A frame longer than this is a broken or hostile peer: the link is closed. */
export const LINK_MAX_FRAME_BYTES = 64 << 20;

export function encodeLinkHello(challenge: Buffer): Buffer {
  return Buffer.concat([LINK_MAGIC, Buffer.from([LINK_VERSION]), challenge]);
}

/** The challenge, or why the bytes are not a hello this node can answer. */
export function decodeLinkHello(b: Buffer): { challenge: Buffer } | { problem: string } {
  if (b.length !== LINK_HELLO_BYTES || !b.subarray(0, 4).equals(LINK_MAGIC)) return { problem: 'not a node link (no IOTL hello)' };
  if (b[4] !== LINK_VERSION) return { problem: `node link version ${b[4]}; this node speaks ${LINK_VERSION}` };
  return { challenge: b.subarray(5) };
}

export function linkMac(key: Buffer, challenge: Buffer, node: string): Buffer {
  return createHmac('sha256', key).update(challenge).update(node, 'utf8').digest();
}

export function encodeLinkAuth(node: string, mac: Buffer): Buffer {
  const id = Buffer.from(node, 'utf8');
  if (id.length > 255) throw new RangeError('node id longer than 255 bytes');
  return Buffer.concat([Buffer.from([id.length]), id, mac]);
}

/** Bytes the auth message takes, once its first byte is known. */
export function linkAuthBytes(first: number): number {
  return 1 + first + LINK_MAC_BYTES;
}

/** The sender's node id if its MAC is right (compared in constant time), else undefined. */
export function checkLinkAuth(b: Buffer, key: Buffer, challenge: Buffer): string | undefined {
  const n = b[0]!;
  if (b.length !== linkAuthBytes(n)) return undefined;
  const node = b.subarray(1, 1 + n).toString('utf8');
  const mac = b.subarray(1 + n);
  return timingSafeEqual(mac, linkMac(key, challenge, node)) ? node : undefined;
}

/**
 * Collects a stream's chunks and hands out byte runs of asked lengths without copying when a run
 * lies in one chunk (the common case for frames smaller than a socket read).
 */
export class ChunkReader {
  #chunks: Buffer[] = [];
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
  }

  /** The byte at `offset` from the front, or undefined. */
  peekByte(offset = 0): number | undefined {
    if (offset >= this.#size) return undefined;
    let o = this.#head + offset;
    for (const c of this.#chunks) {
      if (o < c.length) return c[o];
      o -= c.length;
    }
    return undefined;
  }

  peekU32(): number | undefined {
    if (this.#size < 4) return undefined;
    const c = this.#chunks[0]!;
    if (c.length - this.#head >= 4) return c.readUInt32BE(this.#head);
    return ((this.peekByte(0)! << 24) >>> 0) + (this.peekByte(1)! << 16) + (this.peekByte(2)! << 8) + this.peekByte(3)!;
  }

  /** The next `n` bytes, removed, or undefined while fewer have arrived. */
  take(n: number): Buffer | undefined {
    if (n > this.#size) return undefined;
    this.#size -= n;
    const c = this.#chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (c && c.length - this.#head >= n) {
      const out = c.subarray(this.#head, this.#head + n);
      this.#head += n;
      if (this.#head === c.length) { this.#chunks.shift(); this.#head = 0; }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    while (o < n) {
      const first = this.#chunks[0]!;
      const k = Math.min(n - o, first.length - this.#head);
      first.copy(out, o, this.#head, this.#head + k);
      o += k;
      this.#head += k;
      if (this.#head === first.length) { this.#chunks.shift(); this.#head = 0; }
    }
    return out;
  }
}
