import { hash, timingSafeEqual } from 'node:crypto';
import { AUTH_ANSWER_LENGTH, MAC_LENGTH, UID_LENGTH } from './constants.js';
import { readUid, writeUid } from './uid.js';

const SHA256_BLOCK = 64;

/**
 * HMAC-SHA256(authKey, challenge) (PROTOCOL §3 step 5), as RFC 2104 spells it: two one-shot
 * SHA-256 hashes. createHmac builds an OpenSSL MAC context per call, about 4x the cost of
 * this, once per handshake on each side (bench/README.md, "Profile under sessions").
 */
export function computeMac(key: Buffer, challenge: Buffer): Buffer {
  const k = key.length > SHA256_BLOCK ? hash('sha256', key, 'buffer') : key;
  const inner = Buffer.allocUnsafe(SHA256_BLOCK + challenge.length);
  const outer = Buffer.allocUnsafe(SHA256_BLOCK + MAC_LENGTH);
  for (let i = 0; i < SHA256_BLOCK; i++) {
    const b = i < k.length ? k[i]! : 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  challenge.copy(inner, SHA256_BLOCK);
  hash('sha256', inner, 'buffer').copy(outer, SHA256_BLOCK);
  return hash('sha256', outer, 'buffer');
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
