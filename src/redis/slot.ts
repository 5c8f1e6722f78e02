/**
 * Redis Cluster's key slot (CRC16/XMODEM of the key's hash tag, mod 16384), so that the engine can
 * put keys that one script touches into one slot even when their names come from different data
 * (a token and its UID): see RedisTokenStore.
 */
const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 8;
  for (let j = 0; j < 8; j++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1;
  TABLE[i] = c & 0xffff;
}

export const SLOTS = 16384;

export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) ^ TABLE[((crc >> 8) ^ b) & 0xff]!) & 0xffff;
  return crc;
}

/** The slot of a key: of the text inside its first non-empty `{…}`, else of the whole key (Redis's rule). */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key, 'utf8')) % SLOTS;
}

const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** The slot of `length` bytes of `b` from `at`, written as lowercase hex: without building the string (a hot loop). */
export function hexSlot(b: Uint8Array, at: number, length: number): number {
  let crc = 0;
  for (let i = at; i < at + length; i++) {
    const hi = HEX[b[i]! >> 4]!;
    const lo = HEX[b[i]! & 15]!;
    crc = ((crc << 8) ^ TABLE[((crc >> 8) ^ hi) & 0xff]!) & 0xffff;
    crc = ((crc << 8) ^ TABLE[((crc >> 8) ^ lo) & 0xff]!) & 0xffff;
  }
  return crc % SLOTS;
}
