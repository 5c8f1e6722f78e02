import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { Metrics } from '../observability/metrics.js';
import {
  CENTRAL_UID, RuleType, decodeTransmissions, type Initiation, type InitiationAnswer, type Transmission,
} from '../protocol/index.js';
import type { AclService } from '../registry/acl-service.js';
import type { Session } from '../registry/session.js';
import { ClaimRefusedError, type SessionManager, type SharedClaim } from '../registry/session-manager.js';
import type { Router } from '../routing/router.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { IdleSweep } from './idle-sweep.js';
import { AdmissionGuard } from './admission-guard.js';
import { ChallengePool } from './challenge-pool.js';
import { SessionChannel, type ChannelContext } from './session-channel.js';
import { HandshakeError, runHandshake, type Credentials, type HandshakeDeps, type HandshakeFailure } from './handshake.js';
import { TransmissionTrace } from './transmission-trace.js';

export interface SessionHostDeps {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly sessions: SessionManager;
  readonly router: Router;
  readonly acl: AclService;
  secureContext(): SecureContext | undefined;
  /** Called once a connection is bound to its session (tokens are issued there). */
  onAuthenticated(s: Session, conn: Connection): void;
  /** An object's authentication was refused (its UID is known from the answer). */
  onRefused(uid: string, reason: string): void;
  /** True while new sessions cannot be taken: a cluster node that cannot reach its shared engine. */
  unavailable?(): boolean;
  /**
   * A cluster's say on a new client (drain, rebalance): a node to send it to, or a refusal
   * without one; undefined: take it here.
   */
  placement?(): { readonly redirect?: { readonly host: string; readonly port: number }; readonly reason: 'draining' | 'rebalanced' } | undefined;
}

const REFUSE: InitiationAnswer = Object.freeze({ ok: false, flags: 0, rule: { type: RuleType.NONE } });
const ACCEPT: InitiationAnswer = Object.freeze({ ok: true, flags: 0, rule: { type: RuleType.NONE } });
const CLOSE_GRACE_MS = 5_000;
/** Errors of an accepted socket are reported through 'close'; an unhandled one must not crash the daemon. */
const ignoreError = (): void => {};

/** Takes accepted sockets through the handshake to a session, and feeds their transmissions to the router. */
export class SessionHost {
  readonly #d: SessionHostDeps;
  readonly #sockets = new Set<Socket>();
  /** Sockets still in the handshake: they have no session to close, only a socket to end. */
  readonly #handshaking = new Set<Socket>();
  readonly #guard: AdmissionGuard;
  /** The same for every handshake: built once, not per accepted socket. */
  readonly #handshake: HandshakeDeps;
  readonly #trace: TransmissionTrace;
  /** What every Connection and SessionChannel shares (per-connection objects hold only their own state: issue 14). */
  readonly #connection: ConnectionOptions;
  readonly #channel: ChannelContext;
  /** One listener for every socket ('close' calls it with the socket as `this`), not a closure per socket. */
  readonly #forgetSocket: (this: Socket) => void;
  /** The idle checks of every connection (tcp.pingIdleSec); undefined when off. */
  readonly #idleSweep: IdleSweep | undefined;
  #draining = false;
  #awaitingAcl = 0;

  constructor(deps: SessionHostDeps) {
    this.#d = deps;
    const l = deps.config.limits;
    this.#guard = new AdmissionGuard(deps.clock, { failuresPerMinute: l.authFailuresPerMinute, banSec: l.authBanSec, acceptPerSec: l.acceptPerSec });
    const challenges = new ChallengePool();
    this.#trace = new TransmissionTrace(deps.log);
    const sockets = this.#sockets;
    this.#forgetSocket = function forgetSocket(this: Socket) { sockets.delete(this); };
    const pingIdleMs = deps.config.tcp.pingIdleSec * 1000;
    this.#idleSweep = pingIdleMs > 0 ? new IdleSweep(deps.clock, pingIdleMs) : undefined;
    this.#connection = {
      clock: deps.clock,
      maxTransmissionBytes: deps.config.tcp.maxTransmissionBytes,
      idleSweep: this.#idleSweep,
      closeGraceMs: CLOSE_GRACE_MS,
      writeBufferBytes: l.writeBufferBytes,
      drainTimeoutMs: l.drainTimeoutSec * 1000,
      transmissionTimeoutMs: l.transmissionTimeoutSec * 1000,
      sentCounters: deps.metrics.outByTot,
      trace: this.#trace,
      socketClosed: (socket) => { sockets.delete(socket); },
    };
    this.#channel = {
      router: deps.router, acl: deps.acl, sessions: deps.sessions, log: deps.log, metrics: deps.metrics,
      reroute: (session, unsent, reason) => this.#reroute(session, unsent, reason),
    };
    this.#handshake = {
      clock: deps.clock,
      timeoutMs: deps.config.tcp.handshakeTimeoutSec * 1000,
      secureContext: deps.secureContext,
      admission: (i, socket) => this.#admission(i, socket.remoteAddress ?? ''),
      credentials: (uid) => this.#credentials(uid),
      challenge: () => challenges.next(),
      // Only a cluster claims: a single node builds no link record (and asks no peer address of the TLS socket: a getpeername).
      claim: (uid, cred, init, socket) => (deps.sessions.shared ? deps.sessions.claim(uid, cred.kind, cred.group, {
        peer: `${socket.remoteAddress ?? ''}:${socket.remotePort}`, tls: init.tls, maxTransmissionLength: init.maxTransmissionLength,
      }) : undefined),
    };
  }

  /** Handshakes whose verdict waits for an ACL change to be persisted and enforced. */
  get handshakesAwaitingAcl(): number {
    return this.#awaitingAcl;
  }

  /** Failed-authentication bans, for the admin API. */
  get admission(): AdmissionGuard {
    return this.#guard;
  }

  get connectionCount(): number {
    return this.#sockets.size;
  }

  /** New connections are refused with OK=0 from now on; handshakes under way are ended. */
  drain(): void {
    this.#draining = true;
    for (const s of this.#handshaking) s.end();
  }

  /** Resolves once every socket has closed, or after `maxMs` (real time: used only at shutdown). */
  whenEmpty(maxMs: number): Promise<void> {
    if (this.#sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const deadline = setTimeout(done, maxMs);
      const poll = setInterval(() => { if (this.#sockets.size === 0) done(); }, 10);
      function done() {
        clearTimeout(deadline);
        clearInterval(poll);
        resolve();
      }
    });
  }

  /** Destroys every socket; the last step of close() and destroy(). */
  destroyAll(): void {
    for (const s of this.#sockets) s.destroy();
    this.#trace.dispose();
    this.#idleSweep?.dispose();
  }

  accept(socket: Socket): void {
    const ip = socket.remoteAddress ?? '';
    const peer = `${ip}:${socket.remotePort}`;
    // One entry per connection: the raw socket. A TLS socket wraps it and closes with it, so
    // tracking both would count every TLS session twice toward tcp.maxConnections.
    this.#sockets.add(socket);
    socket.on('close', this.#forgetSocket);
    socket.on('error', ignoreError);
    socket.setNoDelay(true);
    this.#handshaking.add(socket);
    const d = this.#d;
    runHandshake(socket, this.#handshake).then(
      (r) => {
        this.#handshaking.delete(socket);
        this.#bind(r.socket, peer, r.uid, r.credentials, r.initiation, r.tls, r.claimed as SharedClaim | undefined);
      },
      (err: unknown) => {
        this.#handshaking.delete(socket);
        const reason = err instanceof HandshakeError ? err.reason : 'closed';
        d.metrics.countHandshake('refused', reason);
        const uid = err instanceof HandshakeError ? err.uid : undefined;
        const detail = err instanceof HandshakeError ? err.detail : undefined;
        if (detail !== undefined) {
          // A claim the fleet refused: Redis slow or away, or this node's lease lapsed — an operator's matter, said once per device.
          const cause = detail instanceof ClaimRefusedError ? detail.why : 'other';
          const what = detail instanceof Error ? detail.message : String(detail);
          d.log.warn({ event: 'handshake-refused', peer, reason, uid, cause }, `handshake of ${JSON.stringify(uid)} refused: its session claim failed (${cause}): ${what}`);
        } else d.log.info({ event: 'handshake-refused', peer, reason, uid }, 'handshake refused');
        if (uid) d.onRefused(uid, reason);
        const ban = reason === 'bad-mac' || reason === 'unknown-uid' ? this.#guard.recordFailure(ip) : undefined;
        if (ban) {
          const { authFailuresPerMinute, authBanSec } = d.config.limits;
          d.log.warn({ event: 'ip-banned', ip, until: ban.until, seconds: authBanSec },
            `banned ${ip} until ${ban.until}: ${authFailuresPerMinute} failed authentications within a minute (lift it: DELETE /admin/bans/${ip})`);
        }
      },
    );
  }

  #admission(_i: Initiation, ip: string): InitiationAnswer & { reason?: HandshakeFailure } {
    const { tcp } = this.#d.config;
    if (this.#draining) return { ...REFUSE, reason: 'draining' };
    if (this.#d.unavailable?.()) return { ...REFUSE, reason: 'cluster-unavailable' };
    if (this.#guard.isBanned(ip)) return { ...REFUSE, reason: 'banned' };
    // PROTOCOL §3: a draining or overloaded node of a cluster sends the client to another one.
    const placed = this.#d.placement?.();
    if (placed) return placed.redirect ? { ok: false, flags: 0, rule: { type: RuleType.REDIRECT, ...placed.redirect }, reason: placed.reason } : { ...REFUSE, reason: placed.reason };
    const load: HandshakeFailure | undefined = this.#sockets.size > tcp.maxConnections ? 'overloaded' : !this.#guard.takeAccept() ? 'accept-rate' : undefined;
    if (!load) return ACCEPT;
    // PROTOCOL §3: refuse, or send the client to another concentrator when one is configured.
    if (tcp.redirect) return { ok: false, flags: 0, rule: { type: RuleType.REDIRECT, ...tcp.redirect }, reason: load };
    return { ...REFUSE, reason: load };
  }

  #credentials(uid: string): Credentials | undefined | Promise<Credentials | undefined> {
    if (uid === CENTRAL_UID) return { kind: 'central', group: '', key: this.#d.config.central.authKey };
    // An ACL change asked before this answer arrived may add, re-key or remove this UID: decide
    // on the ACL in force after it, neither early (not yet persisted) nor wrongly (the old one).
    const wait = this.#d.acl.beforeVerdict();
    if (!wait) return this.#objectCredentials(uid);
    this.#awaitingAcl++;
    return wait.then(() => {
      this.#awaitingAcl--;
      return this.#objectCredentials(uid);
    });
  }

  #objectCredentials(uid: string): Credentials | undefined {
    const rec = this.#d.acl.current.get(uid);
    return rec && { kind: 'object', group: rec.group, key: rec.key };
  }

  #bind(socket: Socket, peer: string, uid: string, cred: Credentials, init: Initiation, tls: boolean, claimed: SharedClaim | undefined): void {
    const d = this.#d;
    d.metrics.countHandshake('accepted', cred.kind);
    const conn = new Connection(socket, this.#connection, { peer, tls, maxTransmissionLength: init.maxTransmissionLength, uid });
    if (this.#draining) {
      if (tls) socket.on('error', ignoreError); // the TLS layer's errors end in 'close' too; the raw socket is tracked
      return conn.close(0x01, 'draining');
    }
    const session = d.sessions.attach(uid, cred.kind, cred.group, conn, claimed);
    conn.start(new SessionChannel(this.#channel, session, conn, cred.kind));
    // The connection listens for 'error' and 'close' on its socket from here on and tells the
    // host of the close (ConnectionOptions.socketClosed): a plain socket drops the host's own
    // two listeners, so that each event keeps one listener, not an array of two (issue 14).
    if (!tls) {
      socket.off('error', ignoreError);
      socket.off('close', this.#forgetSocket);
    }
    d.onAuthenticated(session, conn);
  }

  /**
   * What a closed connection never handed to the kernel is routed again, in order, as if it
   * arrived after the close: a kept session buffers it, an ended one answers requests 0xA0.
   */
  #reroute(session: Session, unsent: ReadonlyArray<Transmission | Buffer>, reason: string): void {
    let n = 0;
    for (const item of unsent) {
      for (const t of Buffer.isBuffer(item) ? decodeTransmissions(item) : [item]) {
        this.#d.router.redeliver(session.uid, t);
        n++;
      }
    }
    if (n === 0) return;
    if (reason === 'drain-timeout') this.#d.log.warn({ event: 'peer-not-reading', uid: session.uid, unsent: n }, 'peer stopped reading: disconnected');
    else this.#d.log.info({ event: 'unsent-rerouted', uid: session.uid, unsent: n, reason }, 'connection gone before its queue was written: rerouted');
  }
}
