import { ToT, type Transmission } from '../protocol/index.js';
import type { SessionKind } from '../registry/session.js';

/** What the core does with a transmission from an authenticated peer. */
export interface TransmissionHandlers {
  acl(t: Extract<Transmission, { type: typeof ToT.ACL }>): void;
  ping(): void;
  pong(): void;
  objectRequest(t: Extract<Transmission, { type: typeof ToT.REQUEST }>): void;
  objectResponse(t: Extract<Transmission, { type: typeof ToT.RESPONSE }>): void;
  centralRequest(t: Extract<Transmission, { type: typeof ToT.REQUEST }> & { uid: string }): void;
  centralResponse(t: Extract<Transmission, { type: typeof ToT.RESPONSE }> & { uid: string }): void;
  close(code: number): void;
}

/**
 * Who may send what (PROTOCOL §4 Decision). Returns the reason for a protocol error
 * (→ Close 0x00), or undefined once the transmission was handed to its handler.
 * This is the only place these rules live.
 */
export function dispatch(kind: SessionKind, t: Transmission, h: TransmissionHandlers): string | undefined {
  const rte = t.uid !== undefined;
  switch (t.type) {
    case ToT.ACL:
      if (kind !== 'central') return 'ACL from an object'; // §4: central → concentrator only
      if (rte) return 'ACL with RTE=1';
      return void h.acl(t);
    case ToT.PING:
      if (rte) return 'Ping with RTE=1'; // §4: Ping carries no UID
      return void h.ping();
    case ToT.PONG:
      if (rte) return 'Pong with RTE=1';
      return void h.pong();
    case ToT.REQUEST:
      if (kind === 'object') return rte ? 'RTE=1 from an object' : void h.objectRequest(t); // §5
      return rte ? void h.centralRequest(t as typeof t & { uid: string }) : 'Request without RTE from the central';
    case ToT.RESPONSE:
      if (kind === 'object') return rte ? 'RTE=1 from an object' : void h.objectResponse(t);
      return rte ? void h.centralResponse(t as typeof t & { uid: string }) : 'Response without RTE from the central';
    case ToT.TOKEN:
      return 'Telemetry token sent to the concentrator'; // §4: concentrator → object only
    case ToT.TELEMETRY:
      return 'Identified telemetry sent to the concentrator'; // §4: concentrator → central only
    case ToT.CLOSE:
      if (rte) return 'Close with RTE=1';
      return void h.close(t.code);
  }
}
