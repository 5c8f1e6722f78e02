import { INITIATION_LENGTH, RuleType } from './constants.js';

/** The client's 4 clear bytes that open a TCP session (PROTOCOL §3 step 1). */
export interface Initiation {
  readonly tls: boolean;
  readonly version: number;
  readonly options: number;
  /** Largest transmission the client accepts; 0 means no limit stated. */
  readonly maxTransmissionLength: number;
}

export function encodeInitiation(i: Initiation): Buffer {
  const buf = Buffer.allocUnsafe(INITIATION_LENGTH);
  buf[0] = (i.tls ? 0x80 : 0) | (i.version & 0x7f);
  buf[1] = i.options & 0xff;
  buf.writeUInt16BE(i.maxTransmissionLength, 2);
  return buf;
}

export function decodeInitiation(buf: Buffer): Initiation {
  return {
    tls: (buf[0]! & 0x80) !== 0,
    version: buf[0]! & 0x7f,
    options: buf[1]!,
    maxTransmissionLength: buf.readUInt16BE(2),
  };
}

export type Rule =
  | { readonly type: typeof RuleType.NONE }
  | { readonly type: typeof RuleType.REDIRECT; readonly host: string; readonly port: number };

/** The concentrator's answer (PROTOCOL §3 step 2). */
export interface InitiationAnswer {
  readonly ok: boolean;
  readonly flags: number;
  readonly rule: Rule;
}

export function encodeInitiationAnswer(a: InitiationAnswer): Buffer {
  if (a.rule.type === RuleType.NONE) {
    return Buffer.from([(a.ok ? 0x80 : 0) | RuleType.NONE, a.flags & 0xff]);
  }
  const host = Buffer.from(a.rule.host, 'utf8');
  if (host.length > 255) throw new RangeError('redirect host longer than 255 bytes');
  const buf = Buffer.allocUnsafe(2 + 1 + host.length + 2);
  buf[0] = (a.ok ? 0x80 : 0) | RuleType.REDIRECT;
  buf[1] = a.flags & 0xff;
  buf[2] = host.length;
  host.copy(buf, 3);
  buf.writeUInt16BE(a.rule.port, 3 + host.length);
  return buf;
}

/**
 * Decodes an answer from the start of `buf`. Returns the answer and the bytes it used,
 * 'incomplete' when more bytes are needed, or 'unknown-rule'.
 */
export function decodeInitiationAnswer(
  buf: Buffer,
): { answer: InitiationAnswer; length: number } | 'incomplete' | 'unknown-rule' {
  if (buf.length < 2) return 'incomplete';
  const ok = (buf[0]! & 0x80) !== 0;
  const type = buf[0]! & 0x7f;
  const flags = buf[1]!;
  if (type === RuleType.NONE) return { answer: { ok, flags, rule: { type: RuleType.NONE } }, length: 2 };
  if (type !== RuleType.REDIRECT) return 'unknown-rule';
  if (buf.length < 3) return 'incomplete';
  const hostLen = buf[2]!;
  const length = 3 + hostLen + 2;
  if (buf.length < length) return 'incomplete';
  const host = buf.toString('utf8', 3, 3 + hostLen);
  const port = buf.readUInt16BE(3 + hostLen);
  return { answer: { ok, flags, rule: { type: RuleType.REDIRECT, host, port } }, length };
}
