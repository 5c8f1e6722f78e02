import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { TurnBatches, checkPacked, sinkRoom, unpackBatch, type ByteSink, type InboxStats, type MessageEncoder, type NodeInbox } from '../registry/node-inbox.js';
import {
  ChunkReader, LINK_ACCEPT, LINK_CHALLENGE_BYTES, LINK_HELLO_BYTES, LINK_MAX_FRAME_BYTES,
  checkLinkAuth, decodeLinkHello, encodeLinkAuth, encodeLinkHello, linkAuthBytes, linkMac,
} from './link-frames.js';

/** Where a node's link listens and the key a sender proves it knows (hex): announced with its lease. */
export interface LinkAddress {
  readonly address: string;
  readonly key: string;
}

/** A node's link address as the cluster's engine has it now; undefined when the node is not live. */
export type PeerResolver = (node: string) => Promise<LinkAddress | undefined>;

export interface LinkInboxOptions {
  /** Where this node listens for other nodes' links. */
  readonly host: string;
  /** 0: any free port (the one bound is announced). */
  readonly port: number;
  /** The host other nodes dial (when `host` is a wildcard such as 0.0.0.0); default `host`. */
  readonly advertise?: string;
  /** A link must connect and authenticate within this long, or what waits on it is lost (its origins answered). */
  readonly connectTimeoutMs: number;
  /** Bytes a link may hold unwritten (a peer that stopped reading): beyond, posts to it are lost at once. */
  readonly maxQueuedBytes: number;
  /** A peer that could not be reached is dialled again no sooner than this: a dead node costs one try, not one per turn. */
  readonly retryAfterFailMs: number;
}

export const LINK_INBOX_DEFAULTS: Omit<LinkInboxOptions, 'host' | 'port'> = {
  connectTimeoutMs: 2_000, maxQueuedBytes: 64 << 20, retryAfterFailMs: 500,
};

/** Messages per frame at most: a longer turn sends several, so the receiving node starts on the first while this one works on. */
export const FRAME_MESSAGES = 64;

/** Link connections accepted at once that have not authenticated yet (a cluster has a few nodes). */
export const MAX_UNPROVEN_LINKS = 64;

/**
 * Node-to-node messages over direct TCP links (CLUSTER.md "one inbox per node", without a hop
 * through Redis): each node listens; a sender dials each node it posts to once, proves it may
 * (an HMAC of the receiver's challenge under the receiver's link key, which only readers of the
 * engine know), and then writes one frame per destination per loop turn (or per 64 messages, so
 * the receiver starts on a long turn's first frame while the sender works on). Ordered per sender
 * (one TCP connection), at most once, like the stream inbox: a message handed to the kernel and
 * then lost with its peer is answered by its origin's backstop; one that cannot be handed over
 * (peer unknown, unreachable, or not reading) is `lost` at once.
 */
export class LinkNodeInbox implements NodeInbox {
  readonly node: string;
  readonly #o: LinkInboxOptions;
  readonly #resolve: PeerResolver;
  readonly #log: Logger | undefined;
  readonly #key = randomBytes(32);
  /** Per peer, the frame this turn is writing (its messages encoded in place, no Buffer each). */
  readonly #out = new TurnBatches<Frame>((to) => new Frame(to, Math.min(this.#frameBytes.get(to) ?? FRAME_START_BYTES, FRAME_MAX_START_BYTES)), (frames) => this.#send(frames));
  /** Per peer, the size of the last frame sent: the next one starts with room for as much. */
  readonly #frameBytes = new Map<string, number>();
  /** This turn's frames, with those written before it ended (full ones): the turn's flush waits for them all. */
  #writes = new TurnWrites();
  readonly #links = new Map<string, PeerLink>();
  #server: Server | undefined;
  readonly #inbound = new Set<Socket>();
  /** Connections that have not proven they are nodes yet: bounded, so a flood cannot take the descriptors. */
  #unproven = 0;
  #link: LinkAddress | undefined;
  #closed = false;

  constructor(node: string, resolve: PeerResolver, opts: Pick<LinkInboxOptions, 'host' | 'port'> & Partial<LinkInboxOptions>, log?: Logger) {
    this.node = node;
    this.#resolve = resolve;
    this.#o = { ...LINK_INBOX_DEFAULTS, ...opts };
    this.#log = log;
  }

  /** Where other nodes reach this one, once started (announced with the lease). */
  get link(): LinkAddress | undefined {
    return this.#link;
  }

  post(to: string, msg: Buffer, lost?: () => void): void {
    const f = this.#out.batch(to);
    const at = sinkRoom(f, 4 + msg.length);
    f.buf.set(msg, at + 4);
    this.#added(to, f, at, lost, undefined);
  }

  postEncoded<M>(to: string, encode: MessageEncoder<M>, m: M, version: number, lost?: (m: M, to: string) => void): void {
    const f = this.#out.batch(to);
    const at = sinkRoom(f, 4);
    try {
      encode(m, version, f);
    } catch (err) {
      f.length = at;
      throw err;
    }
    this.#added(to, f, at, lost as LostFn | undefined, m);
  }

  /** A message was written at `at` (its length first): counted, and a full frame goes now. */
  #added(to: string, f: Frame, at: number, lost: LostFn | undefined, m: unknown): void {
    f.buf.writeUInt32BE(f.length - at - 4, at);
    f.count++;
    if (lost) {
      f.lostFns.push(lost);
      f.lostArgs.push(m);
    }
    // A full frame goes now: the peer starts on it while this node goes on with its turn (a whole
    // turn in one frame made the nodes take turns, each idle while the other worked).
    if (f.count >= FRAME_MESSAGES) {
      this.#out.take(to);
      this.#sendFrame(f);
    }
  }

  flush(): Promise<void> {
    return this.#out.flushed;
  }

  async start(handler: (batch: Buffer[]) => void, packed?: (batch: Buffer) => void): Promise<void> {
    // A frame is a packed batch: handed over in place when the receiver reads it so.
    const onFrame = packed ?? ((frame: Buffer) => handler(unpackBatch(frame)));
    const server = createServer({ noDelay: true }, (s) => this.#accept(s, onFrame));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // exclusive: in a node:cluster worker (start --workers) a port-0 listen would otherwise be the
      // primary's one shared port, handing a link meant for this node to any of them.
      server.listen({ port: this.#o.port, host: this.#o.host, exclusive: true }, () => { server.off('error', reject); resolve(); });
    });
    server.on('error', (err) => this.#log?.error({ event: 'node-link-server-error', err: String(err) }, 'node link server error'));
    const { port } = server.address() as AddressInfo;
    this.#link = { address: joinHostPort(this.#o.advertise ?? this.#o.host, port), key: this.#key.toString('hex') };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.#links.values()) l.close();
    this.#links.clear();
    for (const s of this.#inbound) s.destroy();
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * A link delivers as frames arrive, so nothing waits unread here: what waits is this node's
   * frames for others not yet handed to the kernel (a link still opening, a peer slow to read).
   */
  async stats(): Promise<InboxStats> {
    const now = performance.now();
    let depth = 0;
    let oldest = now;
    for (const l of this.#links.values()) {
      const w = l.waiting();
      depth += w.frames;
      oldest = Math.min(oldest, w.since);
    }
    return { depth, lagMs: depth === 0 ? 0 : Math.round(now - oldest) };
  }

  /** A dead node: the link to it goes (a restarted node with its id announces a new address and key). */
  async drop(node: string): Promise<void> {
    this.#links.get(node)?.close();
    this.#links.delete(node);
  }

  #send(out: ReadonlyMap<string, Frame>): Promise<void> {
    for (const f of out.values()) if (f.count > 0) this.#sendFrame(f);
    const w = this.#writes;
    this.#writes = new TurnWrites();
    return w.done();
  }

  #sendFrame(f: Frame): void {
    const w = this.#writes;
    w.add();
    if (this.#closed) return w.settle(f.lose());
    f.buf.writeUInt32BE(f.length - 4, 0);
    this.#frameBytes.set(f.to, f.length);
    this.#linkTo(f.to).send(f, w);
  }

  #linkTo(to: string): PeerLink {
    let l = this.#links.get(to);
    if (l && l.usable(performance.now(), this.#o.retryAfterFailMs)) return l;
    l?.close();
    l = new PeerLink(this.node, to, this.#o, this.#resolve, this.#log);
    this.#links.set(to, l);
    return l;
  }

  #accept(s: Socket, onFrame: (frame: Buffer) => void): void {
    if (this.#closed || this.#unproven >= MAX_UNPROVEN_LINKS) return void s.destroy();
    this.#inbound.add(s);
    this.#unproven++;
    let proven = false;
    const settle = () => { if (!proven) { proven = true; this.#unproven--; } };
    s.on('error', () => {});
    s.once('close', () => { settle(); this.#inbound.delete(s); });
    const challenge = randomBytes(LINK_CHALLENGE_BYTES);
    s.write(encodeLinkHello(challenge));
    const reader = new ChunkReader();
    let from: string | undefined;
    const timer = setTimeout(() => s.destroy(), this.#o.connectTimeoutMs);
    timer.unref();
    s.on('data', (chunk: Buffer) => {
      if (this.#closed) return;
      reader.push(chunk);
      if (from === undefined) {
        const first = reader.peekByte(0);
        const auth = first === undefined ? undefined : reader.take(linkAuthBytes(first));
        if (!auth) return;
        from = checkLinkAuth(auth, this.#key, challenge);
        clearTimeout(timer);
        settle();
        if (from === undefined) {
          this.#log?.warn({ event: 'node-link-refused', peer: `${s.remoteAddress}:${s.remotePort}` }, 'a node link was refused: its MAC is wrong (another cluster, or not a node)');
          return void s.destroy();
        }
        s.write(Buffer.of(LINK_ACCEPT));
      }
      for (;;) {
        const n = reader.peekU32();
        if (n === undefined) return;
        if (n > LINK_MAX_FRAME_BYTES) return this.#broken(s, from, `a frame of ${n} bytes`);
        if (reader.size < 4 + n) return;
        reader.take(4);
        const frame = reader.take(n)!;
        try {
          checkPacked(frame);
        } catch (err) {
          return this.#broken(s, from, String(err));
        }
        onFrame(frame);
      }
    });
  }

  #broken(s: Socket, from: string, why: string): void {
    this.#log?.error({ event: 'node-link-broken', from, why }, 'a node link sent what is not a frame: closed');
    s.destroy();
  }
}

/** A new frame's first buffer when no frame went to its peer yet; it grows as messages are written. */
const FRAME_START_BYTES = 1024;
/** …and at most this much (a frame that carried one large transmission does not make every later one as large). */
const FRAME_MAX_START_BYTES = 64 * 1024;

/** What a message's sender is told when it cannot be handed over: the message (as posted) and its destination. */
type LostFn = (m: unknown, to: string) => void;

/** A frame being written for one peer: u32 length of the rest, then per message u32 length and its bytes (packBatch's layout). */
class Frame implements ByteSink {
  buf: Buffer;
  length = 4;
  count = 0;
  /** The `lost` callbacks of its messages that have one, and what each is called with (a shared function, no closure per message). */
  readonly lostFns: LostFn[] = [];
  readonly lostArgs: unknown[] = [];

  constructor(readonly to: string, bytes: number) {
    this.buf = Buffer.allocUnsafe(bytes);
  }

  get bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** Tells each message's sender that it was lost; false. */
  lose(): false {
    for (let i = 0; i < this.lostFns.length; i++) this.lostFns[i]!(this.lostArgs[i], this.to);
    return false;
  }
}

/**
 * The frames of one loop turn (with those that went early, when full): its flush settles once
 * each was handed to the kernel or lost, and rejects if one was lost. Counted, not a promise per frame.
 */
class TurnWrites {
  #pending = 0;
  #failed = false;
  #wake: (() => void) | undefined;

  add(): void {
    this.#pending++;
  }

  settle(ok: boolean): void {
    if (!ok) this.#failed = true;
    if (--this.#pending === 0) this.#wake?.();
  }

  done(): Promise<void> {
    const end = (): void => {
      if (this.#failed) throw new Error('node link: messages could not be handed over');
    };
    if (this.#pending === 0) return Promise.resolve().then(end);
    return new Promise<void>((resolve) => { this.#wake = resolve; }).then(end);
  }
}

/** One link to one peer: dialled on first use, writes frames once authenticated. */
class PeerLink {
  #state: 'dialing' | 'open' | 'failed' | 'closed' = 'dialing';
  #socket: Socket | undefined;
  #failedAt = 0;
  /** Frames posted while dialing, written in order once the link is open. */
  #waiting: Array<{ frame: Frame; writes: TurnWrites; at: number }> = [];
  /** When each frame written and not yet handed to the kernel was written (write callbacks come in order). */
  #unwritten: number[] = [];
  #unwrittenHead = 0;
  readonly #o: LinkInboxOptions;
  readonly #log: Logger | undefined;
  readonly #to: string;

  constructor(self: string, to: string, o: LinkInboxOptions, resolve: PeerResolver, log: Logger | undefined) {
    this.#o = o;
    this.#log = log;
    this.#to = to;
    void this.#dial(self, to, resolve);
  }

  /** False once it closed, or failed longer than `retryMs` ago: then a new link is dialled. */
  usable(now: number, retryMs: number): boolean {
    return this.#state === 'dialing' || this.#state === 'open' || (this.#state === 'failed' && now - this.#failedAt < retryMs);
  }

  /** Settles the frame in `writes` once it is handed to the kernel, or lost (each `lost` called) if it cannot be. */
  send(frame: Frame, writes: TurnWrites, at = performance.now()): void {
    if (this.#state === 'dialing') return void this.#waiting.push({ frame, writes, at });
    const s = this.#socket;
    if (this.#state !== 'open' || !s || s.writableLength > this.#o.maxQueuedBytes) return writes.settle(frame.lose());
    this.#unwritten.push(at);
    s.write(frame.bytes, (err) => {
      if (++this.#unwrittenHead === this.#unwritten.length) [this.#unwritten, this.#unwrittenHead] = [[], 0];
      writes.settle(err ? frame.lose() : true);
    });
  }

  /** Frames not handed to the kernel yet, and since when the oldest waits. */
  waiting(): { frames: number; since: number } {
    const frames = this.#waiting.length + this.#unwritten.length - this.#unwrittenHead;
    const since = this.#waiting[0]?.at ?? this.#unwritten[this.#unwrittenHead] ?? performance.now();
    return { frames, since };
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#fail('closed');
  }

  async #dial(self: string, to: string, resolve: PeerResolver): Promise<void> {
    const timer = setTimeout(() => this.#fail('failed', `no link within ${this.#o.connectTimeoutMs} ms`), this.#o.connectTimeoutMs);
    timer.unref();
    let peer: LinkAddress | undefined;
    try {
      peer = await resolve(to);
    } catch (err) {
      return this.#fail('failed', `its address could not be read (${String(err)})`, timer);
    }
    if (this.#state !== 'dialing') return clearTimeout(timer);
    if (!peer) return this.#fail('failed', 'it is not live in the cluster', timer);
    const { host, port } = splitHostPort(peer.address);
    const s = createConnection({ host, port, noDelay: true });
    this.#socket = s;
    s.on('error', (err) => this.#fail('failed', String(err), timer));
    s.once('close', () => this.#fail(this.#state === 'open' ? 'closed' : 'failed', 'the link closed', timer));
    const reader = new ChunkReader();
    let authed = false;
    s.on('data', (chunk: Buffer) => {
      if (this.#state !== 'dialing') return;
      reader.push(chunk);
      if (!authed) {
        const hello = reader.take(LINK_HELLO_BYTES);
        if (!hello) return;
        const h = decodeLinkHello(hello);
        if ('problem' in h) return this.#fail('failed', h.problem, timer);
        s.write(encodeLinkAuth(self, linkMac(Buffer.from(peer.key, 'hex'), h.challenge, self)));
        authed = true;
      }
      const accept = reader.take(1);
      if (!accept) return;
      if (accept[0] !== LINK_ACCEPT) return this.#fail('failed', 'refused', timer);
      clearTimeout(timer);
      this.#state = 'open';
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const w of waiting) this.send(w.frame, w.writes, w.at);
    });
  }

  #fail(state: 'failed' | 'closed', why?: string, timer?: NodeJS.Timeout): void {
    if (timer) clearTimeout(timer);
    if (this.#state === 'closed' || (this.#state === 'failed' && state === 'failed')) return;
    const was = this.#state;
    this.#state = state;
    this.#failedAt = performance.now();
    this.#socket?.destroy();
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w.writes.settle(w.frame.lose());
    if (was === 'dialing' && why) this.#log?.warn({ event: 'node-link-failed', to: this.#to, why }, `no link to node ${this.#to}: ${why}`);
  }
}


function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(i + 1)) };
}
