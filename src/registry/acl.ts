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

/** An immutable ACL: UID → group and key. Replaced whole, never edited in place. */
export class Acl {
  readonly #byUid: ReadonlyMap<string, AclRecord>;

  private constructor(byUid: Map<string, AclRecord>) {
    this.#byUid = byUid;
  }

  static readonly empty = new Acl(new Map());

  /**
   * Builds an ACL or lists every problem; nothing is half-applied (PROTOCOL §9: the first
   * concentrator silently dropped entries of unknown groups).
   */
  static from(entries: readonly AclEntry[], groups: ReadonlySet<string>): Acl | AclProblem[] {
    const map = new Map<string, AclRecord>();
    const problems: AclProblem[] = [];
    const knownGroups = [...groups];
    entries.forEach((e, index) => {
      const uid = e.uid;
      if (uid === CENTRAL_UID) problems.push({ index, uid, reason: 'central-uid' });
      else if (!isValidUid(uid)) problems.push({ index, uid, reason: 'invalid-uid' });
      else if (!groups.has(e.group)) problems.push({ index, uid, reason: 'unknown-group', group: e.group, knownGroups });
      else if (e.key.length !== AUTH_KEY_LENGTH) problems.push({ index, uid, reason: 'invalid-key' });
      else if (map.has(uid)) problems.push({ index, uid, reason: 'duplicate-uid' });
      else map.set(uid, { group: e.group, key: Buffer.from(e.key) });
    });
    return problems.length > 0 ? problems : new Acl(map);
  }

  get size(): number {
    return this.#byUid.size;
  }

  get(uid: string): AclRecord | undefined {
    return this.#byUid.get(uid);
  }

  entries(): AclEntry[] {
    return [...this.#byUid].map(([uid, r]) => ({ uid, group: r.group, key: r.key }));
  }

  /** UIDs that are gone, or whose key or group changed, in `next`: their sessions must end. */
  revokedIn(next: Acl): string[] {
    const out: string[] = [];
    for (const [uid, r] of this.#byUid) {
      const n = next.get(uid);
      if (!n || n.group !== r.group || !n.key.equals(r.key)) out.push(uid);
    }
    return out;
  }
}

/** One line for every problem; the config's groups are named once, when a group is unknown. */
export function describeAclProblems(problems: readonly AclProblem[]): string {
  const lines = problems.map((p) => `entry ${p.index} (UID ${JSON.stringify(p.uid)}): ${p.reason}${p.group === undefined ? '' : ` ${JSON.stringify(p.group)}`}`);
  const known = problems.find((p) => p.reason === 'unknown-group')?.knownGroups;
  if (known) lines.push(`the config's groups: ${known.length ? known.map((g) => JSON.stringify(g)).join(', ') : 'none'}`);
  return lines.join('; ');
}
