import { AUTH_KEY_LENGTH, CENTRAL_UID, isValidUid, type AclEntry } from '../protocol/index.js';

export interface AclRecord {
  readonly group: string;
  readonly key: Buffer;
}

export interface AclProblem {
  readonly index: number;
  readonly uid: string;
  readonly reason: 'unknown-group' | 'duplicate-uid' | 'invalid-uid' | 'invalid-key' | 'central-uid';
  /** unknown-group: the group the entry names, and the config's groups, so the message can say both. */
  readonly group?: string;
  readonly knownGroups?: readonly string[];
}

/**
 * An immutable ACL: UID → group and key. Replaced whole, never edited in place.
 * Compact (issue 14: an entry was ~600 bytes held): a map from UID to the entry's index, every
 * key in one buffer and every group as an index into the config's groups, so an entry holds a
 * map slot, its UID string, 16 key bytes and 2 group bytes; no object or Buffer per entry.
 */
export class Acl {
  readonly #index: ReadonlyMap<string, number>;
  /** AUTH_KEY_LENGTH bytes per entry, in index order. */
  readonly #keys: Buffer;
  /** Each entry's group, as an index into #groups. */
  readonly #groupOf: Uint16Array;
  readonly #groups: readonly string[];

  private constructor(index: Map<string, number>, keys: Buffer, groupOf: Uint16Array, groups: readonly string[]) {
    this.#index = index;
    this.#keys = keys;
    this.#groupOf = groupOf;
    this.#groups = groups;
  }

  static readonly empty = new Acl(new Map(), Buffer.alloc(0), new Uint16Array(0), []);

  /**
   * Builds an ACL or lists every problem; nothing is half-applied (PROTOCOL §9: the first
   * concentrator silently dropped entries of unknown groups).
   */
  static from(entries: readonly AclEntry[], groups: ReadonlySet<string>): Acl | AclProblem[] {
    const index = new Map<string, number>();
    const problems: AclProblem[] = [];
    const knownGroups = [...groups];
    const groupIndex = new Map(knownGroups.map((g, i) => [g, i]));
    // Without a problem every entry is kept, so both arrays are sized once.
    const keys = Buffer.alloc(entries.length * AUTH_KEY_LENGTH);
    const groupOf = new Uint16Array(entries.length);
    entries.forEach((e, i) => {
      const uid = e.uid;
      const g = groupIndex.get(e.group);
      if (uid === CENTRAL_UID) problems.push({ index: i, uid, reason: 'central-uid' });
      else if (!isValidUid(uid)) problems.push({ index: i, uid, reason: 'invalid-uid' });
      else if (g === undefined) problems.push({ index: i, uid, reason: 'unknown-group', group: e.group, knownGroups });
      else if (e.key.length !== AUTH_KEY_LENGTH) problems.push({ index: i, uid, reason: 'invalid-key' });
      else if (index.has(uid)) problems.push({ index: i, uid, reason: 'duplicate-uid' });
      else {
        index.set(uid, i);
        e.key.copy(keys, i * AUTH_KEY_LENGTH);
        groupOf[i] = g;
      }
    });
    return problems.length > 0 ? problems : new Acl(index, keys, groupOf, knownGroups);
  }

  get size(): number {
    return this.#index.size;
  }

  /** Allocates nothing: what a request's routing asks. */
  has(uid: string): boolean {
    return this.#index.has(uid);
  }

  /** The entry of `uid`; its key is a view of this ACL's key buffer (read it, never write it). */
  get(uid: string): AclRecord | undefined {
    const i = this.#index.get(uid);
    return i === undefined ? undefined : this.#record(i);
  }

  entries(): AclEntry[] {
    return [...this.#index].map(([uid, i]) => ({ uid, ...this.#record(i) }));
  }

  /** UIDs that are gone, or whose key or group changed, in `next`: their sessions must end. */
  revokedIn(next: Acl): string[] {
    const out: string[] = [];
    for (const [uid, i] of this.#index) {
      const j = next.#index.get(uid);
      if (j === undefined || next.#groups[next.#groupOf[j]!] !== this.#groups[this.#groupOf[i]!]
        || this.#keys.compare(next.#keys, j * AUTH_KEY_LENGTH, (j + 1) * AUTH_KEY_LENGTH, i * AUTH_KEY_LENGTH, (i + 1) * AUTH_KEY_LENGTH) !== 0) {
        out.push(uid);
      }
    }
    return out;
  }

  #record(i: number): AclRecord {
    return { group: this.#groups[this.#groupOf[i]!]!, key: this.#keys.subarray(i * AUTH_KEY_LENGTH, (i + 1) * AUTH_KEY_LENGTH) };
  }
}

/** One line for every problem; the config's groups are named once, when a group is unknown. */
export function describeAclProblems(problems: readonly AclProblem[]): string {
  const lines = problems.map((p) => `entry ${p.index} (UID ${JSON.stringify(p.uid)}): ${p.reason}${p.group === undefined ? '' : ` ${JSON.stringify(p.group)}`}`);
  const known = problems.find((p) => p.reason === 'unknown-group')?.knownGroups;
  if (known) lines.push(`the config's groups: ${known.length ? known.map((g) => JSON.stringify(g)).join(', ') : 'none'}`);
  return lines.join('; ');
}
