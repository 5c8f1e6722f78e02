import type { Logger } from 'pino';
import { FORMAT_NAMES, TOT_NAMES, ToT, decodeTransmissions, transmissionLength, type Transmission } from '../protocol/index.js';

/**
 * One debug line per transmission received or sent on a TCP session: its type, the session's
 * UID and peer, the RTE UID, tracking, code and lengths. Never payload bytes, keys, MACs or
 * tokens: an ACL is logged as its entry count, a token as its type alone.
 *
 * Off the hot path when debug is off: `enabled` is a field kept in step with the logger's
 * level ('level-change'), so a caller pays one read per transmission and builds nothing.
 * isLevelEnabled() per transmission cost ~100 ns here, twice per routed request.
 */
export class TransmissionTrace {
  readonly #log: Logger;
  #enabled: boolean;
  readonly #onLevel = (): void => { this.#enabled = this.#log.isLevelEnabled('debug'); };

  constructor(log: Logger) {
    this.#log = log;
    this.#enabled = log.isLevelEnabled('debug');
    log.on('level-change', this.#onLevel);
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** The tracer of one connection, once its UID is known. */
  forConnection(uid: string, peer: string): ConnectionTrace {
    return new ConnectionTrace(this, uid, peer);
  }

  /** Stops following the logger's level (the daemon is closing). */
  dispose(): void {
    this.#log.off('level-change', this.#onLevel);
  }

  write(dir: 'in' | 'out', uid: string, peer: string, t: Transmission): void {
    this.#log.debug({ event: 'transmission', dir, uid, peer, ...describeTransmission(t) }, dir === 'in' ? 'transmission received' : 'transmission sent');
  }
}

/** What a Connection calls; check `enabled` first so that nothing is built while debug is off. */
export class ConnectionTrace {
  readonly #trace: TransmissionTrace;
  readonly #uid: string;
  readonly #peer: string;

  constructor(trace: TransmissionTrace, uid: string, peer: string) {
    this.#trace = trace;
    this.#uid = uid;
    this.#peer = peer;
  }

  get enabled(): boolean {
    return this.#trace.enabled;
  }

  received(t: Transmission): void {
    this.#trace.write('in', this.#uid, this.#peer, t);
  }

  /** `item` may be encoded bytes (a replayed buffer): decoded here, at debug only. */
  sent(item: Transmission | Buffer): void {
    if (!Buffer.isBuffer(item)) return this.#trace.write('out', this.#uid, this.#peer, item);
    let ts: Transmission[];
    try {
      ts = decodeTransmissions(item);
    } catch {
      return; // bytes we encoded ourselves; nothing to say about a tail we cannot read
    }
    for (const t of ts) this.#trace.write('out', this.#uid, this.#peer, t);
  }
}

/** The loggable fields of a transmission: metadata only, never its payload or secrets. */
export function describeTransmission(t: Transmission): Record<string, string | number> {
  const out: Record<string, string | number> = { tot: TOT_NAMES[t.type] ?? t.type, bytes: transmissionLength(t) };
  if (t.uid !== undefined) out.rteUid = t.uid;
  switch (t.type) {
    case ToT.REQUEST:
      out.tracking = t.tracking;
      break;
    case ToT.RESPONSE:
      out.tracking = t.tracking;
      out.code = t.code;
      break;
    case ToT.CLOSE:
      out.code = t.code;
      return out;
    case ToT.ACL:
      out.entries = t.entries.length;
      return out;
    default:
      if (t.type !== ToT.TELEMETRY) return out;
  }
  out.format = FORMAT_NAMES[t.payload.format as keyof typeof FORMAT_NAMES] ?? t.payload.format;
  out.length = t.payload.data.length;
  return out;
}
