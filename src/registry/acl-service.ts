import type { AclEntry } from '../protocol/index.js';
import { Acl, describeAclProblems, type AclProblem } from './acl.js';
import type { AclStore } from './acl-store.js';

export type { AclWriter } from './acl-store.js';

export interface AclServiceEvents {
  /** Each UID gone from the ACL, or whose key or group changed: end its session, revoke its tokens. */
  revoked(uid: string): void;
}

export class AclRejectedError extends Error {
  readonly code = 'ERR_IOTS_ACL_REJECTED';
  constructor(readonly problems: readonly AclProblem[]) {
    super(`ACL rejected: ${describeAclProblems(problems)}`);
  }
}

/**
 * The live ACL: read from its store (the file, or Redis for a cluster), replaced whole (TCP ACL
 * transmission, HTTP /acl). Every change (replacement or reload) runs in one queue, in the order
 * asked, and is enforced only once persisted; `beforeVerdict()` lets a handshake wait for the
 * changes asked before it, and for a shared store, check it is not behind another node's change
 * (issue 10 §1, CLUSTER.md guarantee 6: the ACL is in force before the next answer).
 */
export class AclService {
  #acl: Acl = Acl.empty;
  /** The store version the applied ACL came from; undefined before the first load. */
  #version: string | undefined;
  readonly #store: AclStore;
  readonly #groups: ReadonlySet<string>;
  readonly #events: AclServiceEvents;
  /** The tail of the change queue; never rejects. */
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;
  /** A shared store's version check queued but not yet sent: handshakes arriving meanwhile join it. */
  #nextCheck: Promise<void> | undefined;

  constructor(store: AclStore, groups: Iterable<string>, events: AclServiceEvents) {
    this.#store = store;
    this.#groups = new Set(groups);
    this.#events = events;
  }

  get current(): Acl {
    return this.#acl;
  }

  get store(): AclStore {
    return this.#store;
  }

  /** Changes asked but not yet enforced or given up (being written, or waiting their turn). */
  get queued(): number {
    return this.#queued;
  }

  /** Resolves once every change asked so far is enforced or has failed; never rejects. */
  settled(): Promise<void> {
    return this.#tail;
  }

  /**
   * What a handshake waits for before reading `current`: nothing (undefined) on a single node
   * with no change queued; else the queued changes, and for a shared store a version check
   * (a reload if another node replaced it). Never rejects: a store that cannot be read leaves
   * the ACL in force.
   */
  beforeVerdict(): Promise<void> | undefined {
    if (!this.#store.shared) return this.#queued === 0 ? undefined : this.#tail;
    // One check serves every handshake that asked before it was sent (it reads a version at
    // least as new as any they could need), so a burst of handshakes costs two round trips, not one each.
    this.#nextCheck ??= this.#enqueue(() => {
      this.#nextCheck = undefined;
      return this.#loadIfChanged();
    }).then(() => {}, () => {});
    return this.#nextCheck;
  }

  #enqueue<T>(change: () => Promise<T>): Promise<T> {
    this.#queued++;
    const run = this.#tail.then(change).finally(() => { this.#queued--; });
    this.#tail = run.then(() => {}, () => {});
    return run;
  }

  /**
   * Reads the store (a missing file is an empty ACL) and applies it whole. Throws, changing
   * nothing, when it cannot be used. Returns undefined when it holds what is already applied.
   */
  load(): Promise<Acl | undefined> {
    return this.#enqueue(() => this.#load());
  }

  async #loadIfChanged(): Promise<void> {
    if ((await this.#store.version()) !== this.#version) await this.#load();
  }

  async #load(): Promise<Acl | undefined> {
    const snap = await this.#store.read();
    if (snap.version === this.#version) return undefined;
    const next = Acl.from(snap.entries, this.#groups);
    if (Array.isArray(next)) throw new Error(`${this.#store.source}: ${describeAclProblems(next)}`);
    this.#version = snap.version;
    this.#swap(next);
    return next;
  }

  /**
   * Replaces the whole ACL, or throws (AclRejectedError, or the write's error) and changes
   * nothing. Persisted first, then applied: the store never lags behind what is enforced.
   * Changes are queued, so concurrent replacements apply in call order. A rejected ACL is
   * refused at once (it never waits behind a write).
   */
  replace(entries: readonly AclEntry[]): Promise<Acl> {
    const next = Acl.from(entries, this.#groups);
    if (Array.isArray(next)) return Promise.reject(new AclRejectedError(next));
    return this.#enqueue(async () => {
      this.#version = await this.#store.replace(next.entries());
      this.#swap(next);
      return next;
    });
  }

  /** Resolves when every change asked so far has been written (or failed). */
  flush(): Promise<void> {
    return this.#tail;
  }

  #swap(next: Acl): void {
    const revoked = this.#acl.revokedIn(next);
    this.#acl = next;
    for (const uid of revoked) this.#events.revoked(uid);
  }
}
