import { ACL_ENTRY_LENGTH, AUTH_KEY_LENGTH, UID_LENGTH } from './constants.js';
import { readUid, writeUid } from './uid.js';

/** One ACL line (PROTOCOL §2): the object's group, its UID and its 16-byte auth key. */
export interface AclEntry {
  readonly group: string;
  readonly uid: string;
  readonly key: Buffer;
}

export function aclLength(entries: readonly AclEntry[]): number {
  return 4 + entries.length * ACL_ENTRY_LENGTH;
}

export function writeAcl(entries: readonly AclEntry[], buf: Buffer, offset: number): number {
  buf.writeUInt32BE(entries.length, offset);
  let o = offset + 4;
  for (const e of entries) {
    o = writeUid(e.group, buf, o);
    o = writeUid(e.uid, buf, o);
    e.key.copy(buf, o, 0, AUTH_KEY_LENGTH);
    o += AUTH_KEY_LENGTH;
  }
  return o;
}

/** Reads `count` entries that are all present. Throws ProtocolError on a bad UID or group. */
export function readAclEntries(buf: Buffer, offset: number, count: number): AclEntry[] {
  const out: AclEntry[] = new Array(count);
  let o = offset;
  for (let i = 0; i < count; i++, o += ACL_ENTRY_LENGTH) {
    out[i] = {
      group: readUid(buf, o),
      uid: readUid(buf, o + UID_LENGTH),
      key: Buffer.from(buf.subarray(o + 2 * UID_LENGTH, o + ACL_ENTRY_LENGTH)),
    };
  }
  return out;
}
