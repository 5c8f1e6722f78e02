import { CloseCode } from '../protocol/index.js';
import type { SessionManager } from '../registry/session-manager.js';
import type { TokenRegistry } from '../registry/token-registry.js';

/**
 * An ACL change removed a UID or changed its key or group: its session ends at once (Close
 * 0x01) and its telemetry tokens stop working (PROTOCOL §7, §9).
 */
export function revokeUid(tokens: TokenRegistry, sessions: SessionManager): (uid: string) => void {
  return (uid) => {
    tokens.revoke(uid);
    const s = sessions.get(uid);
    if (s) sessions.end(s, 'revoked', CloseCode.MAINTENANCE);
  };
}
