import { readFile } from 'node:fs/promises';
import type { AclEntry } from '../protocol/index.js';
import { Acl, describeAclProblems, type AclProblem } from './acl.js';
import { AclFileWriter, formatAclJson, removeStaleTemps } from './acl-file.js';
import { checkAclText } from './acl-check.js';

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

/** The live ACL: loaded from its file, replaced whole (TCP ACL transmission, HTTP /acl), persisted atomically. */
export class AclService {
  #acl: Acl = Acl.empty;
  readonly #path: string;
  readonly #groups: ReadonlySet<string>;
  readonly #writer: AclFileWriter;
  readonly #events: AclServiceEvents;
  /** The file text last read or written, so our own writes are not "changes" to reload. */
  #knownText: string | undefined;

  constructor(path: string, groups: Iterable<string>, events: AclServiceEvents) {
    this.#path = path;
    this.#groups = new Set(groups);
    this.#writer = new AclFileWriter(path);
    this.#events = events;
  }

  get current(): Acl {
    return this.#acl;
  }

  /**
   * Loads the file (missing: empty ACL) and applies it whole. Throws, changing nothing, when
   * it cannot be used. Returns undefined when the file holds what is already applied.
   */
  async load(): Promise<Acl | undefined> {
    if (this.#knownText === undefined) await removeStaleTemps(this.#path); // first load: nothing of ours is writing yet
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`ACL file ${this.#path}: ${(err as Error).message}`);
      text = '{}';
    }
    if (text === this.#knownText) return undefined;
    const checked = checkAclText(this.#path, text, this.#groups);
    if ('error' in checked) throw new Error(checked.error);
    this.#knownText = text;
    this.#swap(checked.acl);
    return checked.acl;
  }

  /**
   * Replaces the whole ACL, or throws (AclRejectedError, or the write's error) and changes
   * nothing. Persisted first, then applied: the file never lags behind what is enforced.
   * Writes are serialised, so concurrent replacements apply in call order.
   */
  async replace(entries: readonly AclEntry[]): Promise<Acl> {
    const next = Acl.from(entries, this.#groups);
    if (Array.isArray(next)) throw new AclRejectedError(next);
    await this.#writer.write(next.entries());
    this.#knownText = formatAclJson(next.entries());
    this.#swap(next);
    return next;
  }

  flush(): Promise<void> {
    return this.#writer.flush();
  }

  #swap(next: Acl): void {
    const revoked = this.#acl.revokedIn(next);
    this.#acl = next;
    for (const uid of revoked) this.#events.revoked(uid);
  }
}
