import { CENTRAL_UID, ToT, isValidUid, type Payload } from '../protocol/index.js';
import { BaseClient, type BaseClientOptions } from './base-client.js';
import type { RequestHandler } from './request-serving.js';
import { ClientError, ClientErrorCode } from './errors.js';
import { normalizeKey } from './open-session.js';
import { toPayload, type PayloadInput } from './payload-helpers.js';
import type { ResponseResult } from './request-tracker.js';
import type { RequestOptions } from './object-client.js';

/** A Request from an object, as the central sees it. */
export interface CentralRequest {
  readonly uid: string;
  readonly tracking: number;
  readonly payload: Payload;
}

/** An ACL line as the SDK accepts it; the key as bytes or 32 hex digits. */
export interface AclEntryInput {
  readonly group: string;
  readonly uid: string;
  readonly key: Buffer | string;
}

/** Options of {@link CentralClient}: `key` is the central auth key. */
export interface CentralClientOptions extends BaseClientOptions {
  /** Answers objects' Requests; without it they are emitted as 'request' events. */
  readonly handler?: RequestHandler<CentralRequest>;
}

/**
 * The central's TCP session (empty UID). Requests carry the target UID (RTE=1) and
 * tracking numbers are chosen per target UID.
 *
 * Events: 'connected', 'request' (RequestEvent with `uid`, only without a handler),
 * 'telemetry' ({ uid, payload }), 'close' (CloseEvent), 'reconnect' ({ attempt, delayMs, takenOver? }), 'error' (only when listened to).
 */
export class CentralClient extends BaseClient {
  constructor(opts: CentralClientOptions) {
    super(opts, CENTRAL_UID, 'central', opts.handler as RequestHandler<never> | undefined);
  }

  /** Sends a Request to object `uid` and resolves with its Response (any code). */
  request(uid: string, payload: PayloadInput, opts: RequestOptions = {}): Promise<ResponseResult> {
    try {
      if (!isValidUid(uid) || uid === '') throw new ClientError(ClientErrorCode.INVALID_ARG, 'target UID is 1 to 16 bytes of UTF-8');
      return this.session().request(uid, toPayload(payload), opts.timeoutMs);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Replaces the concentrator's whole ACL (ToT 0). Resolves once written to the socket. */
  sendAcl(entries: readonly AclEntryInput[]): Promise<void> {
    try {
      const acl = entries.map((e) => {
        if (!isValidUid(e.uid) || !isValidUid(e.group)) throw new ClientError(ClientErrorCode.INVALID_ARG, `bad ACL entry '${e.uid}'`);
        return { group: e.group, uid: e.uid, key: normalizeKey(e.key) };
      });
      if (!this.session().send({ type: ToT.ACL, entries: acl })) throw new ClientError(ClientErrorCode.CLOSED, 'not connected');
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  protected onToken(_token: Buffer): void {
    // Unreachable: the session rejects a token sent to the central.
  }

  protected onTelemetry(uid: string, payload: Payload): void {
    this.emit('telemetry', { uid, payload });
  }

  protected onStopped(): void {}
}
