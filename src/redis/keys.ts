/**
 * Key names of the Redis engine. A UID goes into a key as hex (UIDs are 1–16 bytes of UTF-8 and
 * may hold `{`, `}` or `:`), inside a hash tag, so that every key of one UID lands in one Redis
 * Cluster slot and no script touches keys of two UIDs (CLUSTER.md): the fleet can be sharded later.
 * Keys shared by the fleet (indexes) are written by separate commands, never inside a UID's script.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  static uidTag(uid: string): string {
    return Buffer.from(uid, 'utf8').toString('hex');
  }

  static uidOf(tag: string): string {
    return Buffer.from(tag, 'hex').toString('utf8');
  }

  /** Hash: one UID's directory entry. */
  session(uid: string): string {
    return `${this.prefix}s:{${RedisKeys.uidTag(uid)}}`;
  }

  /** Stream: what is buffered for a kept session, in order. */
  buffer(uid: string): string {
    return `${this.prefix}b:{${RedisKeys.uidTag(uid)}}`;
  }

  /** String: the bytes held in that stream (its bound is checked in the append script). */
  bufferBytes(uid: string): string {
    return `${this.prefix}bb:{${RedisKeys.uidTag(uid)}}`;
  }

  /** Sorted set (score 0, by hex UID): every UID with an entry, for listing the fleet. */
  get sessionIndex(): string {
    return `${this.prefix}sessions`;
  }

  /** Sorted set (score: keptUntil): kept sessions, for the expiry sweep. */
  get keptIndex(): string {
    return `${this.prefix}kept`;
  }

  /** Stream: a node's inbox (packed batches of node-to-node messages). */
  inbox(node: string): string {
    return `${this.prefix}node:${node}:inbox`;
  }

  /** Hash: the fleet's ACL, UID → [group, key hex]; with its version under one tag (one script replaces both). */
  get aclEntries(): string {
    return `${this.prefix}{acl}:entries`;
  }

  /** Hash: a replacement of the ACL being written, under the ACL's tag so that one script can put it in place. */
  aclStaging(id: string): string {
    return `${this.prefix}{acl}:staging:${id}`;
  }

  get aclVersion(): string {
    return `${this.prefix}{acl}:version`;
  }

  /** Pub/sub channel: a new ACL version was written. */
  get aclChannel(): string {
    return `${this.prefix}acl-changed`;
  }

  /** Set: the UIDs a node holds connected; owned by that node (reaped with it). */
  heldBy(node: string): string {
    return `${this.prefix}node:${node}:held`;
  }

  /** Sorted set (score: issue order): one UID's telemetry tokens, by key; expires with its longest-lived token. */
  tokensOf(uid: string): string {
    return `${this.prefix}tk:{${RedisKeys.uidTag(uid)}}`;
  }

  /**
   * Hash: one telemetry token (uid, group), PEXPIRE = its lifetime. Its hash tag is the token's
   * first 4 bytes in hex, and tokens are drawn so that this tag falls in their UID's slot
   * (RedisTokenStore): a UID's tokens and their list share a slot, yet a datagram's token alone
   * names its key. The prefix must hold no `{`.
   */
  token(tokenHex: string): string {
    return `${this.prefix}t:{${tokenHex.slice(0, 8)}}${tokenHex.slice(8)}`;
  }

  /** The token (hex) a token key names. */
  tokenHexOf(key: string): string {
    return key.slice(this.prefix.length + 3).replace('}', '');
  }

  /** Sorted set (score: expiry in Redis's clock, ms, or +inf): every token, for the fleet-wide bound. */
  get tokenIndex(): string {
    return `${this.prefix}tokens`;
  }

  /** Pub/sub channel: tokens revoked or replaced (hex, space-separated): nodes drop them from their caches. */
  get tokenChannel(): string {
    return `${this.prefix}tokens-dropped`;
  }

  /** String: a node's lease (its incarnation), PEXPIRE = leaseMs, refreshed by its heartbeat. */
  nodeLease(node: string): string {
    return `${this.prefix}node:{${node}}:lease`;
  }

  /** String: who reaps a dead incarnation (SET NX, PEXPIRE = the claim's time); under the lease's tag. */
  nodeReap(node: string, incarnation: string): string {
    return `${this.prefix}node:{${node}}:reap:${incarnation}`;
  }

  /** Hash: node → its last announcement (JSON); an entry leaves when its node stops or is reaped. */
  get nodeList(): string {
    return `${this.prefix}nodes`;
  }
}
