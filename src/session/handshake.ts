import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Clock, TimerHandle } from '../clock.js';
import {
  AUTH_ACCEPTED, AUTH_ANSWER_LENGTH, AUTH_REFUSED, CHALLENGE_LENGTH, CloseCode, INITIATION_LENGTH, PROTOCOL_VERSION,
  ProtocolError, RuleType, ToT, decodeAuthAnswer, decodeInitiation, encodeInitiationAnswer, encodeTransmission,
  verifyMac, type Initiation, type InitiationAnswer,
} from '../protocol/index.js';
import type { SessionKind } from '../registry/session.js';

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
export function runHandshake(raw: Socket, deps: HandshakeDeps): Promise<HandshakeResult> {
  return new Promise((resolve, reject) => new Handshake(raw, deps, resolve, reject).start());
}

type Stage = 'initiation' | 'tls' | 'auth' | 'verdict' | 'settled';

/**
 * One handshake's state: one 'data', 'close' and 'error' listener on the socket being read
 * (the raw one, then the TLS one), bound once, instead of a promise and three closures per
 * read (bench/README.md, "handshakes": the handshake is most of a plain session's CPU).
 */
class Handshake {
  readonly #raw: Socket;
  readonly #deps: HandshakeDeps;
  readonly #resolve: (r: HandshakeResult) => void;
  readonly #reject: (err: HandshakeError) => void;
  /** The socket read: the raw one, then the TLS one wrapping it. */
  #socket: Socket;
  #stage: Stage = 'initiation';
  #timer: TimerHandle | undefined;
  /** Bytes of the current read not yet used (a partial initiation or answer). */
  #held: Buffer | undefined;
  #initiation: Initiation | undefined;
  #challenge: Buffer | undefined;
  readonly #onData = (chunk: Buffer): void => {
    try {
      this.#data(chunk);
    } catch {
      this.#fail('closed'); // as #guard does, without a closure per chunk
    }
  };
  readonly #onGone = (): void => this.#fail('closed');
  readonly #onTimeout = (): void => this.#fail('timeout');

  constructor(raw: Socket, deps: HandshakeDeps, resolve: (r: HandshakeResult) => void, reject: (err: HandshakeError) => void) {
    this.#raw = raw;
    this.#socket = raw;
    this.#deps = deps;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  start(): void {
    this.#timer = this.#deps.clock.setTimeout(this.#onTimeout, this.#deps.timeoutMs);
    this.#listen(this.#raw);
  }

  #listen(socket: Socket): void {
    socket.on('data', this.#onData);
    socket.on('close', this.#onGone);
    socket.on('error', this.#onGone);
    socket.resume();
  }

  #unlisten(socket: Socket): void {
    socket.off('data', this.#onData);
    socket.off('close', this.#onGone);
    socket.off('error', this.#onGone);
  }

  /** Runs a step; what it throws unexpectedly ends the handshake as 'closed', as a lost socket does. */
  #guard(step: () => void): void {
    try {
      step();
    } catch {
      this.#fail('closed');
    }
  }

  /** Collects `n` bytes of the current read: undefined until they are all in; `#held` keeps what follows. */
  #take(chunk: Buffer, n: number): { bytes: Buffer; extra: Buffer | undefined } | undefined {
    const all = this.#held === undefined ? chunk : Buffer.concat([this.#held, chunk]);
    if (all.length < n) {
      this.#held = all;
      return undefined;
    }
    this.#held = undefined;
    return { bytes: all.subarray(0, n), extra: all.length > n ? all.subarray(n) : undefined };
  }

  #data(chunk: Buffer): void {
    if (this.#stage === 'initiation') {
      const first = this.#take(chunk, INITIATION_LENGTH);
      if (first) this.#initiated(first.bytes, first.extra);
    } else if (this.#stage === 'auth') {
      const auth = this.#take(chunk, AUTH_ANSWER_LENGTH);
      if (auth) this.#answered(auth.bytes, auth.extra);
    }
    // 'tls': the raw socket is read by the TLS layer. 'verdict': nothing may come before the
    // verdict; what does is left to the session (Connection reads it once started).
  }

  #initiated(bytes: Buffer, extra: Buffer | undefined): void {
    const deps = this.#deps;
    const raw = this.#raw;
    const initiation = decodeInitiation(bytes);
    this.#initiation = initiation;
    if (initiation.version !== PROTOCOL_VERSION) return this.#refuse('bad-version');
    const context = initiation.tls ? deps.secureContext() : undefined;
    if (initiation.tls && !context) return this.#refuse('tls-unavailable');
    const answer = deps.admission(initiation, raw);
    if (!answer.ok) return this.#refuse(answer.reason ?? 'admission', answer);
    if (!initiation.tls && extra) return this.#failProtocol('early-bytes');
    const answerBytes = encodeInitiationAnswer(answer);
    const challenge = deps.challenge();
    this.#challenge = challenge;
    if (!initiation.tls) {
      // Nothing from the client comes between the answer and the challenge (§3 steps 2, 4): one write.
      this.#stage = 'auth';
      raw.write(Buffer.concat([answerBytes, challenge], answerBytes.length + CHALLENGE_LENGTH));
      return;
    }
    this.#stage = 'tls';
    this.#unlisten(raw);
    raw.pause();
    raw.write(answerBytes);
    // Bytes that came with the initiation belong to the TLS layer (a ClientHello), never to us.
    if (extra) raw.unshift(extra);
    const tls = new TLSSocket(raw, { isServer: true, secureContext: context! });
    this.#socket = tls;
    const onTlsError = (): void => {
      tls.destroy();
      this.#settleFailure(new HandshakeError('tls-failed'));
    };
    tls.once('error', onTlsError);
    tls.once('close', onTlsError);
    tls.once('secure', () => this.#guard(() => {
      tls.off('error', onTlsError);
      tls.off('close', onTlsError);
      if (this.#stage !== 'tls') return;
      tls.disableRenegotiation();
      this.#stage = 'auth';
      this.#listen(tls);
      tls.write(challenge);
    }));
  }

  #answered(bytes: Buffer, extra: Buffer | undefined): void {
    if (extra) return this.#failProtocol('early-bytes'); // nothing may follow before acceptance
    this.#stage = 'verdict';
    this.#socket.pause(); // what comes before the verdict stays buffered for the session
    let uid: string;
    let mac: Buffer;
    try {
      ({ uid, mac } = decodeAuthAnswer(bytes));
    } catch (err) {
      if (err instanceof ProtocolError) return this.#failProtocol('bad-uid');
      throw err;
    }
    const credentials = this.#deps.credentials(uid);
    if (!(credentials instanceof Promise)) return this.#verdict(uid, mac, credentials);
    // The deadline may pass, or the socket close, while the verdict waits for the ACL: the
    // handshake has failed then, and what the ACL says no longer matters.
    credentials.then((c) => this.#guard(() => this.#verdict(uid, mac, c)), () => this.#fail('closed'));
  }

  #verdict(uid: string, mac: Buffer, credentials: Credentials | undefined): void {
    if (this.#stage !== 'verdict') return;
    const socket = this.#socket;
    if (socket.destroyed) return this.#fail('closed'); // gone while the verdict waited for the ACL
    if (!credentials) return this.#refuseAuth('unknown-uid', uid);
    if (!verifyMac(credentials.key, this.#challenge!, mac)) return this.#refuseAuth('bad-mac', uid);
    const claiming = this.#deps.claim?.(uid, credentials, this.#initiation!, socket);
    if (!claiming) return this.#accept(uid, credentials, undefined);
    claiming.then(
      (claimed) => this.#guard(() => {
        if (this.#stage !== 'verdict') return;
        if (socket.destroyed) return this.#fail('closed'); // gone while its session was claimed
        this.#accept(uid, credentials, claimed);
      }),
      (err: unknown) => { if (this.#stage === 'verdict') this.#refuseAuth('cluster-unavailable', uid, err); },
    );
  }

  #accept(uid: string, credentials: Credentials, claimed: unknown): void {
    const socket = this.#socket;
    const initiation = this.#initiation!;
    this.#finish();
    socket.pause(); // the session's Connection reads from here on
    socket.write(ACCEPT);
    this.#resolve({ socket, uid, credentials, initiation, tls: initiation.tls, claimed });
  }

  #refuse(reason: HandshakeFailure, answer?: InitiationAnswer): void {
    endWith(this.#raw, encodeInitiationAnswer(answer ?? { ok: false, flags: 0, rule: { type: RuleType.NONE } }));
    this.#settleFailure(new HandshakeError(reason));
  }

  #refuseAuth(reason: HandshakeFailure, uid: string, detail?: unknown): void {
    endWith(this.#socket, REFUSE);
    this.#settleFailure(new HandshakeError(reason, uid, detail));
  }

  #failProtocol(reason: HandshakeFailure): void {
    endWith(this.#socket, CLOSE_PROTOCOL_ERROR);
    this.#settleFailure(new HandshakeError(reason));
  }

  /** The socket is gone or the deadline passed: both layers are destroyed. */
  #fail(reason: 'closed' | 'timeout'): void {
    if (this.#stage === 'settled') return;
    this.#socket.destroy();
    this.#raw.destroy();
    this.#settleFailure(new HandshakeError(reason));
  }

  /** A refusal: the socket is already ending with its answer (or destroyed). */
  #settleFailure(err: HandshakeError): void {
    if (this.#stage === 'settled') return;
    this.#finish();
    this.#reject(err);
  }

  #finish(): void {
    this.#stage = 'settled';
    this.#deps.clock.clearTimeout(this.#timer);
    this.#unlisten(this.#socket);
    if (this.#socket !== this.#raw) this.#unlisten(this.#raw);
    this.#held = undefined;
  }
}

/** Writes a last answer, then closes fully once it is flushed (the peer may never close its side). */
function endWith(socket: Socket, bytes: Buffer): void {
  socket.end(bytes, () => socket.destroy());
}
