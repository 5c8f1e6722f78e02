import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Clock } from '../clock.js';
import {
  AUTH_ACCEPTED, AUTH_ANSWER_LENGTH, AUTH_REFUSED, CHALLENGE_LENGTH, CloseCode, INITIATION_LENGTH, PROTOCOL_VERSION,
  ProtocolError, RuleType, ToT, decodeAuthAnswer, decodeInitiation, encodeInitiationAnswer, encodeTransmission,
  verifyMac, type Initiation, type InitiationAnswer,
} from '../protocol/index.js';
import type { SessionKind } from '../registry/session.js';
import { readExact } from './byte-reader.js';

export type HandshakeFailure =
  | 'timeout' | 'closed' | 'bad-version' | 'tls-unavailable' | 'admission' | 'tls-failed'
  | 'early-bytes' | 'bad-uid' | 'unknown-uid' | 'bad-mac'
  | 'banned' | 'overloaded' | 'accept-rate' | 'draining' | 'cluster-unavailable' | 'rebalanced';

export interface Credentials {
  readonly kind: SessionKind;
  readonly group: string;
  readonly key: Buffer;
}

export interface HandshakeDeps {
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** TLS material; undefined: a client asking for TLS is refused with OK=0. */
  secureContext(): SecureContext | undefined;
  /** OK, or a refusal / redirect with its reason (load, draining, banned IP). Asked after the initiation is read. */
  admission(initiation: Initiation, socket: Socket): InitiationAnswer & { readonly reason?: HandshakeFailure };
  /** A fresh 16-byte challenge (PROTOCOL §3 step 4). */
  challenge(): Buffer;
  /**
   * Credentials for a UID: the central for '', an ACL entry for an object. A promise while an
   * ACL change is being persisted: the verdict waits for the ACL in force after it.
   */
  credentials(uid: string): Credentials | undefined | Promise<Credentials | undefined>;
  /**
   * A cluster takes the UID fleet-wide before the peer is told it is accepted, so that once it
   * is, every node routes to it. Rejects when that cannot be done (the peer is refused).
   */
  claim?(uid: string, credentials: Credentials, initiation: Initiation, socket: Socket): Promise<unknown> | undefined;
}

export interface HandshakeResult {
  readonly socket: Socket;
  readonly uid: string;
  readonly credentials: Credentials;
  readonly initiation: Initiation;
  readonly tls: boolean;
  /** What `claim` resolved with. */
  readonly claimed?: unknown;
}

export class HandshakeError extends Error {
  /** `detail`: what made the session claim fail (a cluster's `cluster-unavailable`), for the log. */
  constructor(readonly reason: HandshakeFailure, readonly uid?: string, readonly detail?: unknown) {
    super(`handshake failed: ${reason}`);
  }
}

const ACCEPT = Buffer.from([AUTH_ACCEPTED]);
const REFUSE = Buffer.from([AUTH_REFUSED]);
const CLOSE_PROTOCOL_ERROR = encodeTransmission({ type: ToT.CLOSE, code: CloseCode.PROTOCOL_ERROR });

/**
 * PROTOCOL §3 steps 1–6 on a fresh socket, under one absolute deadline that traffic does
 * not reset (it also bounds the TLS handshake, which a hand-built TLSSocket lacks).
 * On failure the socket is ended or destroyed and a HandshakeError says why.
 */
export async function runHandshake(raw: Socket, deps: HandshakeDeps): Promise<HandshakeResult> {
  let socket: Socket = raw;
  let timedOut = false;
  const timer = deps.clock.setTimeout(() => {
    timedOut = true;
    socket.destroy();
    raw.destroy();
  }, deps.timeoutMs);
  try {
    return await steps(raw, deps, (s) => (socket = s));
  } catch (err) {
    if (timedOut) throw new HandshakeError('timeout');
    if (err instanceof HandshakeError) throw err; // the socket is already ending with its answer
    socket.destroy();
    raw.destroy();
    throw new HandshakeError('closed');
  } finally {
    deps.clock.clearTimeout(timer);
  }
}

async function steps(raw: Socket, deps: HandshakeDeps, setSocket: (s: Socket) => void): Promise<HandshakeResult> {
  const first = await readExact(raw, INITIATION_LENGTH);
  const initiation = decodeInitiation(first.bytes);
  const refuse = (reason: HandshakeFailure, answer?: InitiationAnswer): never => {
    endWith(raw, encodeInitiationAnswer(answer ?? { ok: false, flags: 0, rule: { type: RuleType.NONE } }));
    throw new HandshakeError(reason);
  };
  if (initiation.version !== PROTOCOL_VERSION) refuse('bad-version');
  const context = initiation.tls ? deps.secureContext() : undefined;
  if (initiation.tls && !context) refuse('tls-unavailable');
  const answer = deps.admission(initiation, raw);
  if (!answer.ok) refuse(answer.reason ?? 'admission', answer);
  if (!initiation.tls && first.extra) return failProtocol(raw, 'early-bytes');
  const answerBytes = encodeInitiationAnswer(answer);
  const challenge = deps.challenge();
  let socket: Socket = raw;
  if (initiation.tls) {
    raw.write(answerBytes);
    // Bytes that came with the initiation belong to the TLS layer (a ClientHello), never to us.
    if (first.extra) raw.unshift(first.extra);
    socket = await upgradeToTls(raw, context!);
    setSocket(socket);
    socket.write(challenge);
  } else {
    // Nothing from the client comes between the answer and the challenge (§3 steps 2, 4): one write.
    raw.write(Buffer.concat([answerBytes, challenge], answerBytes.length + CHALLENGE_LENGTH));
  }
  const auth = await readExact(socket, AUTH_ANSWER_LENGTH);
  if (auth.extra) return failProtocol(socket, 'early-bytes'); // nothing may follow before acceptance
  let uid: string;
  let mac: Buffer;
  try {
    ({ uid, mac } = decodeAuthAnswer(auth.bytes));
  } catch (err) {
    if (err instanceof ProtocolError) return failProtocol(socket, 'bad-uid');
    throw err;
  }
  let credentials = deps.credentials(uid);
  if (credentials instanceof Promise) {
    credentials = await credentials;
    // The deadline may have passed while the verdict waited for the ACL: the socket is gone then.
    if (socket.destroyed) throw new Error('closed while waiting for the ACL');
  }
  if (!credentials) return refuseAuth(socket, 'unknown-uid', uid);
  if (!verifyMac(credentials.key, challenge, mac)) return refuseAuth(socket, 'bad-mac', uid);
  const claiming = deps.claim?.(uid, credentials, initiation, socket);
  let claimed: unknown;
  if (claiming) {
    try {
      claimed = await claiming;
    } catch (err) {
      return refuseAuth(socket, 'cluster-unavailable', uid, err);
    }
    if (socket.destroyed) throw new Error('closed while its session was claimed');
  }
  socket.write(ACCEPT);
  return { socket, uid, credentials, initiation, tls: initiation.tls, claimed };
}

function refuseAuth(socket: Socket, reason: HandshakeFailure, uid: string, detail?: unknown): never {
  endWith(socket, REFUSE);
  throw new HandshakeError(reason, uid, detail);
}

function failProtocol(socket: Socket, reason: HandshakeFailure): never {
  endWith(socket, CLOSE_PROTOCOL_ERROR);
  throw new HandshakeError(reason);
}

/** Writes a last answer, then closes fully once it is flushed (the peer may never close its side). */
function endWith(socket: Socket, bytes: Buffer): void {
  socket.end(bytes, () => socket.destroy());
}

function upgradeToTls(raw: Socket, secureContext: SecureContext): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = new TLSSocket(raw, { isServer: true, secureContext });
    const onError = () => {
      tls.destroy();
      reject(new HandshakeError('tls-failed'));
    };
    tls.once('error', onError);
    tls.once('close', onError);
    tls.once('secure', () => {
      tls.off('error', onError);
      tls.off('close', onError);
      tls.disableRenegotiation();
      resolve(tls);
    });
  });
}
