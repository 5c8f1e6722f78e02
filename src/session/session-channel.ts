import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { CloseCode, ToT, closeKeepsSession, type ProtocolError, type Transmission } from '../protocol/index.js';
import type { AclService } from '../registry/acl-service.js';
import { AclRejectedError } from '../registry/acl-service.js';
import type { Session, SessionKind } from '../registry/session.js';
import type { SessionManager } from '../registry/session-manager.js';
import type { Router } from '../routing/router.js';
import type { ClosedInfo, Connection, ConnectionHooks } from './connection.js';
import { dispatch, type TransmissionHandlers } from './dispatcher.js';
import { OrderedIntake } from './ordered-intake.js';

/** What every channel of a host shares: built once, not per connection. */
export interface ChannelContext {
  readonly router: Router;
  readonly acl: AclService;
  readonly sessions: SessionManager;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Routes again what a closed connection never wrote (SessionHost.#reroute). */
  reroute(session: Session, unsent: ReadonlyArray<Transmission | Buffer>, reason: string): void;
}

/**
 * One authenticated connection's side of its session: the hooks its Connection calls and the
 * handlers the dispatcher calls, as methods of one object. (They were 12 closures and their
 * contexts per session, ~1 KiB of heap each: issue 14.) The OrderedIntake exists only once a
 * central's ACL has had to hold what follows it.
 */
export class SessionChannel implements ConnectionHooks, TransmissionHandlers {
  readonly #ctx: ChannelContext;
  readonly #session: Session;
  readonly #conn: Connection;
  readonly #kind: SessionKind;
  #intake: OrderedIntake | undefined;

  constructor(ctx: ChannelContext, session: Session, conn: Connection, kind: SessionKind) {
    this.#ctx = ctx;
    this.#session = session;
    this.#conn = conn;
    this.#kind = kind;
  }

  onTransmission(t: Transmission): void {
    this.#ctx.metrics.inByTot[t.type]?.inc();
    if (this.#intake) this.#intake.push(t);
    else this.#handle(t);
  }

  onProtocolError(err: ProtocolError): void {
    const { metrics, log, sessions } = this.#ctx;
    metrics.protocolErrors.labels(this.#kind).inc();
    log.warn({ event: 'protocol-error', uid: this.#session.uid, peer: this.#conn.peer, code: err.code, detail: err.message }, 'protocol error');
    sessions.detach(this.#session, this.#conn, false, 'protocol-error');
  }

  onClosed(info: ClosedInfo): void {
    const code = info.received ?? info.sent;
    // PROTOCOL §6: unexpected drop or Close 0xA0/0xA1 keeps the session; 0x00–0x03 end it.
    const keep = code === undefined || closeKeepsSession(code);
    this.#ctx.sessions.detach(this.#session, this.#conn, keep, info.reason);
    if (info.unsent.length > 0) this.#ctx.reroute(this.#session, info.unsent, info.reason);
  }

  acl(t: Extract<Transmission, { type: typeof ToT.ACL }>): void {
    const { acl, metrics, log } = this.#ctx;
    const applied = acl.replace(t.entries).then(
      (next) => { metrics.aclUpdates.labels('tcp', 'applied').inc(); log.info({ event: 'acl-replaced', source: 'tcp', entries: next.size }, 'ACL replaced'); },
      (err: unknown) => {
        metrics.aclUpdates.labels('tcp', 'rejected').inc();
        if (err instanceof AclRejectedError) log.error({ event: 'acl-rejected', source: 'tcp', problems: err.problems }, 'ACL from the central rejected; the previous ACL stays');
        else log.error({ event: 'acl-write-failed', source: 'tcp', err: String(err) }, 'ACL not applied: it could not be persisted; the previous ACL stays');
      },
    );
    // What the central sends next is answered only once this ACL is in force (or refused).
    this.#intake ??= new OrderedIntake((next) => this.#handle(next), this.#conn);
    this.#intake.holdUntil(applied);
  }

  ping(): void {
    this.#conn.send({ type: ToT.PONG });
  }

  pong(): void {}

  objectRequest(t: Extract<Transmission, { type: typeof ToT.REQUEST }>): void {
    this.#ctx.router.objectRequest(this.#session.uid, t.tracking, t.payload, this.#readAt());
  }

  objectResponse(t: Extract<Transmission, { type: typeof ToT.RESPONSE }>): void {
    this.#ctx.router.objectResponse(this.#session.uid, t.tracking, t.code, t.payload, this.#readAt());
  }

  centralRequest(t: Extract<Transmission, { type: typeof ToT.REQUEST }> & { uid: string }): void {
    void this.#ctx.router.centralRequest(t.uid, t.tracking, t.payload, undefined, undefined, this.#readAt());
  }

  centralResponse(t: Extract<Transmission, { type: typeof ToT.RESPONSE }> & { uid: string }): void {
    this.#ctx.router.centralResponse(t.uid, t.tracking, t.code, t.payload, this.#readAt());
  }

  close(code: number): void {
    const conn = this.#conn;
    const session = this.#session;
    conn.noteCloseReceived(code);
    if (session.link !== conn) return;
    this.#ctx.sessions.detach(session, conn, closeKeepsSession(code), `peer-close-0x${code.toString(16)}`);
    this.#ctx.reroute(session, conn.takeUnsent(), 'peer-close'); // now, ahead of anything routed to the kept session next
  }

  /**
   * When the transmission being handled was read: its connection's read time while it is
   * handled in that read (no intake), so requests and responses need no clock read each.
   * Undefined (the tracker reads the clock) once an intake may run it later, after reads
   * that came since.
   */
  #readAt(): number | undefined {
    return this.#intake ? undefined : this.#conn.readAt;
  }

  #handle(t: Transmission): void {
    const violation = dispatch(this.#kind, t, this);
    if (violation === undefined) return;
    const { metrics, log, sessions } = this.#ctx;
    metrics.protocolErrors.labels(this.#kind).inc();
    log.warn({ event: 'protocol-error', uid: this.#session.uid, peer: this.#conn.peer, violation }, 'protocol error: closing with 0x00');
    this.#conn.close(CloseCode.PROTOCOL_ERROR, 'protocol-error');
    sessions.detach(this.#session, this.#conn, false, 'protocol-error'); // PROTOCOL §6: ends at once
  }
}
