import type { Logger } from 'pino';
import { CloseCode } from '../protocol/index.js';
import type { SessionManager } from '../registry/session-manager.js';
import type { TokenStore } from '../registry/token-store.js';

/**
 * An ACL change removed a UID or changed its key or group: its session ends at once (Close
 * 0x01) and its telemetry tokens stop working, at every node sharing the store (PROTOCOL §7, §9).
 * The memory store revokes before this returns; a shared one that is away is logged and not
 * retried: those tokens then last until their expiry (a revoked UID can no longer authenticate
 * to renew them; a group whose tokens never expire keeps them until the store is cleared).
 */
export function revokeUid(tokens: TokenStore, sessions: SessionManager, log: Pick<Logger, 'warn'>): (uid: string) => void {
  return (uid) => {
    tokens.revoke(uid).catch((err: unknown) => {
      log.warn({ event: 'token-revoke-failed', uid, err: errorText(err) }, 'telemetry tokens of a revoked UID could not be revoked: the token store is away');
    });
    const s = sessions.get(uid);
    if (s) sessions.end(s, 'revoked', CloseCode.MAINTENANCE);
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
