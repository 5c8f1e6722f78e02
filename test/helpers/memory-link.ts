import { decodeTransmissions, type Transmission } from '../../src/protocol/index.js';
import type { SessionLink } from '../../src/registry/session.js';

/** A SessionLink that records what the core sends it: for the routing policy's own tests (no socket involved there). */
export class MemoryLink implements SessionLink {
  readonly sent: Transmission[] = [];
  closed: { code: number; reason?: string } | undefined;
  constructor(readonly peer = '127.0.0.1:1', readonly maxTransmissionLength = 0, readonly tls = false) {}
  send(t: Transmission): void {
    this.sent.push(t);
  }
  sendBytes(bytes: Buffer): void {
    this.sent.push(...decodeTransmissions(bytes));
  }
  close(code: number, reason?: string): void {
    this.closed = { code, reason };
  }
  /** What was sent of one type, in order. */
  of<T extends Transmission['type']>(type: T): Array<Extract<Transmission, { type: T }>> {
    return this.sent.filter((x) => x.type === type) as Array<Extract<Transmission, { type: T }>>;
  }
}
