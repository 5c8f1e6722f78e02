import { UID_LENGTH } from './constants.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes a UID takes as UTF-8, or -1 when it does not fit in 16 bytes. */
export function uidByteLength(uid: string): number {
  const n = Buffer.byteLength(uid, 'utf8');
  return n > UID_LENGTH ? -1 : n;
}

export function isValidUid(uid: string): boolean {
  return typeof uid === 'string' && uidByteLength(uid) >= 0 && !uid.startsWith('\0');
}

/** PROTOCOL §2: the UTF-8 text right-aligned in 16 bytes, left-padded with 0x00. */
export function writeUid(uid: string, buf: Buffer, offset: number): number {
  // Fast path, for the ASCII UIDs that are the common case: a byte per character, no native
  // calls (Buffer.byteLength, fill, utf8Write were 3 % of the daemon's CPU under tcp-rr: issue 14).
  const len = uid.length;
  if (len <= UID_LENGTH) {
    let ascii = true;
    for (let i = 0; i < len; i++) if (uid.charCodeAt(i) > 0x7f) { ascii = false; break; }
    if (ascii) {
      const start = offset + UID_LENGTH - len;
      for (let i = offset; i < start; i++) buf[i] = 0;
      for (let i = 0; i < len; i++) buf[start + i] = uid.charCodeAt(i);
      return offset + UID_LENGTH;
    }
  }
  const n = Buffer.byteLength(uid, 'utf8');
  if (n > UID_LENGTH) throw new ProtocolError(ProtocolErrorCode.BAD_UID, 'UID longer than 16 bytes');
  buf.fill(0, offset, offset + UID_LENGTH - n);
  if (n > 0) buf.write(uid, offset + UID_LENGTH - n, n, 'utf8');
  return offset + UID_LENGTH;
}

export function encodeUid(uid: string): Buffer {
  const buf = Buffer.allocUnsafe(UID_LENGTH);
  writeUid(uid, buf, 0);
  return buf;
}

/**
 * The ASCII UIDs decoded lately, in slots picked by a hash of their bytes: a UID read again
 * (every transmission of the central names one) is the same string, not a new one, so it is
 * neither built nor hashed again, and the map lookups that follow (ACL, session, tracker)
 * compare it by identity (issue 14). Direct-mapped and bounded: a collision replaces the slot.
 */
const UID_SLOTS = 1024;
const recentUids: Array<string | undefined> = new Array<string | undefined>(UID_SLOTS).fill(undefined);

/** Leading 0x00 bytes are ignored; the rest must be valid UTF-8. Throws ProtocolError. */
export function readUid(buf: Buffer, offset: number): string {
  let start = offset;
  const end = offset + UID_LENGTH;
  while (start < end && buf[start] === 0) start++;
  if (start === end) return '';
  let ascii = true;
  let h = end - start;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b > 0x7f) { ascii = false; break; }
    h = Math.imul(h ^ b, 0x01000193);
  }
  // Fast path: ASCII UIDs are the common case and need no validation.
  if (ascii) {
    const slot = (h ^ (h >>> 15)) & (UID_SLOTS - 1);
    const seen = recentUids[slot];
    if (seen !== undefined && seen.length === end - start) {
      let same = true;
      for (let i = 0; i < seen.length; i++) if (seen.charCodeAt(i) !== buf[start + i]) { same = false; break; }
      if (same) return seen;
    }
    const uid = buf.toString('latin1', start, end);
    recentUids[slot] = uid;
    return uid;
  }
  try {
    return strictUtf8.decode(buf.subarray(start, end));
  } catch {
    throw new ProtocolError(ProtocolErrorCode.BAD_UID, 'UID is not valid UTF-8');
  }
}
