import type { SessionKind } from './session.js';

/** What a directory entry says of a session's connection (PROTOCOL §3 step 7, §6). */
export interface SessionInfo {
  readonly kind: SessionKind;
  readonly group: string;
  readonly peer: string;
  readonly tls: boolean;
  /** Announced by the connection (PROTOCOL §3); 0: no limit. A kept session keeps the figure. */
  readonly maxTransmissionLength: number;
}

/** One UID's session, fleet-wide: who holds it, and whether it is connected or kept. */
export interface DirectoryEntry extends SessionInfo {
  readonly uid: string;
  /** The node holding the connection, or the one that held it last (kept). */
  readonly node: string;
  /** The claim that made this entry; a later write must name it (a fencing token). */
  readonly claim: string;
  readonly state: 'connected' | 'kept';
  /** Clock ms of the last state change. */
  readonly since: number;
  /** Clock ms after which a kept session expires; 0 while connected. */
  readonly keptUntil: number;
}

/**
 * A claim whose outcome is unknown: sent, then no answer (a command timeout, the connection lost).
 * The engine may have applied it: `claim` names the entry it would have written, so the caller can
 * fence it (keep it, so that it expires) once the engine answers again.
 */
export class ClaimOutcomeUnknown extends Error {
  constructor(readonly claim: string, readonly failure: unknown) {
    super(failure instanceof Error ? failure.message : String(failure));
  }
}

export interface ClaimResult {
  readonly claim: string;
  /** The entry this claim replaced: a connection elsewhere to take over, or a kept session to resume. */
  readonly previous?: DirectoryEntry;
}

/**
 * The session directory (CLUSTER.md guarantees 3–5): one session per UID fleet-wide. A claim
 * always wins (the newer connection takes over); every later write names its claim and does
 * nothing once another claim replaced it, so a node that lost a race (or Redis for a while)
 * cannot undo a newer owner's entry. Asynchronous: a shared engine answers in a round trip.
 */
export interface SessionDirectory {
  /** This node's id, written into the entries it claims. */
  readonly node: string;
  /**
   * Claims made from now on are `node.incarnation.n`: the node's lease incarnation (NodeRegistry),
   * so a reaper keeps only what the dead incarnation claimed, never what a restarted one just did.
   */
  useIncarnation(incarnation: string): void;
  /** Takes the UID's session for a connection on this node. Rejects with ClaimOutcomeUnknown when the engine may have applied it. */
  claim(uid: string, info: SessionInfo, now: number): Promise<ClaimResult>;
  /** The connection of `claim` is gone and the session is kept until `keptUntil`. False: fenced. */
  keep(uid: string, claim: string, keptUntil: number, now: number): Promise<boolean>;
  /**
   * Removes the entry, if it still is `claim`'s (any claim when undefined: revocation, admin).
   * Returns what was removed, so exactly one of several racing callers (expiry sweeps on every
   * node) gets it and answers what was buffered.
   */
  end(uid: string, claim?: string): Promise<DirectoryEntry | undefined>;
  lookup(uid: string): Promise<DirectoryEntry | undefined>;
  /** One round trip for many UIDs, in the order asked. */
  lookupMany(uids: readonly string[]): Promise<Array<DirectoryEntry | undefined>>;
  /** A page of the fleet's sessions in UID order after `after`; `next` is set when there may be more. */
  list(after: string | undefined, count: number): Promise<{ entries: DirectoryEntry[]; next?: string }>;
  /** Kept sessions whose time is up (keptUntil ≤ now), at most `max`: candidates for end(uid, claim). */
  expired(now: number, max: number): Promise<DirectoryEntry[]>;
  /** Connected entries held by `node`: a dead node's sessions, to be kept for resumption elsewhere. */
  heldBy(node: string): Promise<DirectoryEntry[]>;
  readonly size: Promise<number>;
}

/** The entries of a fleet in one process: shared by the MemorySessionDirectory of each node. */
export class MemoryDirectoryBacking {
  readonly entries = new Map<string, DirectoryEntry>();
  #claims = 0;
  nextClaim(node: string, incarnation: string): string {
    return `${node}.${incarnation}.${++this.#claims}`;
  }
}

/** The in-memory directory: the single-node default, and the reference for the contract tests. */
export class MemorySessionDirectory implements SessionDirectory {
  readonly node: string;
  readonly #b: MemoryDirectoryBacking;

  #incarnation = '0';

  constructor(node: string, backing: MemoryDirectoryBacking = new MemoryDirectoryBacking()) {
    this.node = node;
    this.#b = backing;
  }

  useIncarnation(incarnation: string): void {
    this.#incarnation = incarnation;
  }

  async claim(uid: string, info: SessionInfo, now: number): Promise<ClaimResult> {
    const previous = this.#b.entries.get(uid);
    const claim = this.#b.nextClaim(this.node, this.#incarnation);
    this.#b.entries.set(uid, { ...pickInfo(info), uid, node: this.node, claim, state: 'connected', since: now, keptUntil: 0 });
    return previous ? { claim, previous } : { claim };
  }

  async keep(uid: string, claim: string, keptUntil: number, now: number): Promise<boolean> {
    const e = this.#b.entries.get(uid);
    if (!e || e.claim !== claim) return false;
    this.#b.entries.set(uid, { ...e, state: 'kept', since: now, keptUntil });
    return true;
  }

  async end(uid: string, claim?: string): Promise<DirectoryEntry | undefined> {
    const e = this.#b.entries.get(uid);
    if (!e || (claim !== undefined && e.claim !== claim)) return undefined;
    this.#b.entries.delete(uid);
    return e;
  }

  async lookup(uid: string): Promise<DirectoryEntry | undefined> {
    return this.#b.entries.get(uid);
  }

  async lookupMany(uids: readonly string[]): Promise<Array<DirectoryEntry | undefined>> {
    return uids.map((u) => this.#b.entries.get(u));
  }

  async list(after: string | undefined, count: number): Promise<{ entries: DirectoryEntry[]; next?: string }> {
    const uids = [...this.#b.entries.keys()].filter((u) => after === undefined || u > after).sort();
    const entries = uids.slice(0, count).map((u) => this.#b.entries.get(u)!);
    return uids.length > count ? { entries, next: entries.at(-1)!.uid } : { entries };
  }

  async expired(now: number, max: number): Promise<DirectoryEntry[]> {
    const out: DirectoryEntry[] = [];
    for (const e of this.#b.entries.values()) {
      if (e.state === 'kept' && e.keptUntil <= now) out.push(e);
      if (out.length >= max) break;
    }
    return out;
  }

  async heldBy(node: string): Promise<DirectoryEntry[]> {
    return [...this.#b.entries.values()].filter((e) => e.node === node && e.state === 'connected');
  }

  get size(): Promise<number> {
    return Promise.resolve(this.#b.entries.size);
  }
}

export function pickInfo(i: SessionInfo): SessionInfo {
  return { kind: i.kind, group: i.group, peer: i.peer, tls: i.tls, maxTransmissionLength: i.maxTransmissionLength };
}
