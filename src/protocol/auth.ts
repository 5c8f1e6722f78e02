import { createHmac, timingSafeEqual } from 'node:crypto';
import { AUTH_ANSWER_LENGTH, MAC_LENGTH, UID_LENGTH } from './constants.js';
import { readUid, writeUid } from './uid.js';

/** HMAC-SHA256(authKey, challenge) (PROTOCOL §3 step 5). */
export function computeMac(key: Buffer, challenge: Buffer): Buffer {
  return createHmac('sha256', key).update(challenge).digest();
}

/** Constant-time check of a client's MAC. */
export function verifyMac(key: Buffer, challenge: Buffer, mac: Buffer): boolean {
  const expected = computeMac(key, challenge);
  return mac.length === MAC_LENGTH && timingSafeEqual(expected, mac);
}

export function encodeAuthAnswer(uid: string, mac: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(AUTH_ANSWER_LENGTH);
  writeUid(uid, buf, 0);
  mac.copy(buf, UID_LENGTH, 0, MAC_LENGTH);
  return buf;
}

/** Throws ProtocolError when the UID is not valid UTF-8. */
export function decodeAuthAnswer(buf: Buffer): { uid: string; mac: Buffer } {
  return { uid: readUid(buf, 0), mac: buf.subarray(UID_LENGTH, AUTH_ANSWER_LENGTH) };
}

export const AUTH_ACCEPTED = 0x01;
export const AUTH_REFUSED = 0x00;
