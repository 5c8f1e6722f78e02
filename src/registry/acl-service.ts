import { readFile } from 'node:fs/promises';
import type { AclEntry } from '../protocol/index.js';
import { Acl, describeAclProblems, type AclProblem } from './acl.js';
import { AclFileWriter, formatAclJson, parseAclJson, removeStaleTemps } from './acl-file.js';

export interface AclServiceEvents {
  /** Each UID gone from the ACL, or whose key or group changed: end its session, revoke its tokens. */
  revoked(uid: string): void;
}

/** Persists a whole ACL durably; the default writes the file atomically (AclFileWriter). */
export interface AclWriter {
  write(entries: readonly AclEntry[]): Promise<void>;
}

export class AclRejectedError extends Error {
  readonly code = 'ERR_IOTS_ACL_REJECTED';
  constructor(readonly problems: readonly AclProblem[]) {
    super(`ACL rejected: ${describeAclProblems(problems)}`);
  }
}

/**
 * The live ACL: loaded from its file, replaced whole (TCP ACL transmission, HTTP /acl), persisted
 * atomically. Every change (replacement or file reload) runs in one queue, in the order asked, and
 * is enforced only once persisted; `settled()` lets a handshake or a central's next transmission
 * wait for the changes asked before it (issue 10: the ACL is in force before the next answer).
 */
export class AclService {
  #acl: Acl = Acl.empty;
  readonly #path: string;
  readonly #groups: ReadonlySet<string>;
  readonly #writer: AclWriter;
  readonly #events: AclServiceEvents;
  /** The file text last read or written, so our own writes are not "changes" to reload. */
  #knownText: string | undefined;
  /** The tail of the change queue; never rejects. */
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;

  constructor(path: string, groups: Iterable<string>, events: AclServiceEvents, writer: AclWriter = new AclFileWriter(path)) {
    this.#path = path;
    this.#groups = new Set(groups);
    this.#writer = writer;
    this.#events = events;
  }

  get current(): Acl {
    return this.#acl;
  }

  /** Changes asked but not yet enforced or given up (being written, or waiting their turn). */
  get queued(): number {
    return this.#queued;
  }

  /** Resolves once every change asked so far is enforced or has failed; never rejects. */
  settled(): Promise<void> {
    return this.#tail;
  }

  #enqueue<T>(change: () => Promise<T>): Promise<T> {
    this.#queued++;
    const run = this.#tail.then(change).finally(() => { this.#queued--; });
    this.#tail = run.then(() => {}, () => {});
    return run;
  }

  /**
   * Loads the file (missing: empty ACL) and applies it whole. Throws, changing nothing, when
   * it cannot be used. Returns undefined when the file holds what is already applied.
   */
  load(): Promise<Acl | undefined> {
    return this.#enqueue(() => this.#load());
  }

  async #load(): Promise<Acl | undefined> {
    if (this.#knownText === undefined) await removeStaleTemps(this.#path); // first load: nothing of ours is writing yet
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`ACL file ${this.#path}: ${(err as Error).message}`);
      text = '{}';
    }
    if (text === this.#knownText) return undefined;
    const read = parseAclJson(text);
    if ('error' in read) throw new Error(`ACL file ${this.#path}: ${read.error}`);
    const next = Acl.from(read.entries, this.#groups);
    if (Array.isArray(next)) throw new Error(`ACL file ${this.#path}: ${describeAclProblems(next)}`);
    this.#knownText = text;
    this.#swap(next);
    return next;
  }

  /**
   * Replaces the whole ACL, or throws (AclRejectedError, or the write's error) and changes
   * nothing. Persisted first, then applied: the file never lags behind what is enforced.
   * Changes are queued, so concurrent replacements apply in call order. A rejected ACL is
   * refused at once (it never waits behind a write).
   */
  replace(entries: readonly AclEntry[]): Promise<Acl> {
    const next = Acl.from(entries, this.#groups);
    if (Array.isArray(next)) return Promise.reject(new AclRejectedError(next));
    return this.#enqueue(async () => {
      await this.#writer.write(next.entries());
      this.#knownText = formatAclJson(next.entries());
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
