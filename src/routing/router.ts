import type { Acl } from '../registry/acl.js';
import type { SessionManager } from '../registry/session-manager.js';
import { CENTRAL_UID, ResponseCode, ToT, type Payload, type Transmission } from '../protocol/index.js';
import { EMPTY_PAYLOAD, allocateTracking, type PendingRequest, type RequestTracker, type ResponseTarget } from './request-tracker.js';
import type { RefusalReason } from './reasons.js';

export type { GeneratedReason, RefusalReason } from './reasons.js';

/** The central's non-TCP side (request webhook). The TCP central is a session like any other. */
export interface CentralWebhookPort {
  /** Forwards an object's request; must settle `p` through the tracker exactly once. */
  forwardRequest(p: PendingRequest, payload: Payload): void;
  forwardTelemetry(uid: string, payload: Payload): void;
  readonly handlesRequests: boolean;
  readonly handlesTelemetry: boolean;
}

export interface RouterCounters {
  lateResponse(dir: 'down' | 'up', uid: string, tracking: number): void;
  refused(reason: RefusalReason): void;
  telemetryDropped(reason: string): void;
}

/**
 * Routing across a cluster's nodes (src/cluster/fleet.ts), for what has no session here. The
 * fleet owns each outcome: it delivers, buffers or refuses, answering requests exactly once.
 */
export interface RemoteRouting {
  /** An object's request, tracked here as `p`, for a central not connected here; `miss`: no central in the fleet. */
  toCentral(t: Transmission, p: PendingRequest, miss: () => void): void;
  /** A request from the central side for an object not connected here (the object's node tracks it). `at`: when it was read, if known. */
  centralRequest(uid: string, tracking: number, payload: Payload, origin: ResponseTarget, timeoutMs: number, at?: number): void;
  /** Telemetry for a central not connected here; `miss`: none connected in the fleet (nor kept, unless `missWhenKept`: a webhook takes it). */
  telemetry(uid: string, payload: Payload, miss: () => void, missWhenKept: boolean): void;
  /** A response no request here waits for: to the node tracking it. False when none is known (a late response). */
  response(dir: 'down' | 'up', uid: string, tracking: number, code: number, payload: Payload): boolean;
}

export interface RouterOptions {
  readonly requestTimeoutMs: number;
  readonly maxInFlightPerObject: number;
  readonly maxInFlightPerTarget: number;
  readonly acl: () => Acl;
  readonly webhook?: CentralWebhookPort;
  /** Set in a cluster. */
  readonly remote?: RemoteRouting;
}

/**
 * Routing policy (PROTOCOL §5): who a request goes to, and what answers it when it cannot
 * go anywhere. No I/O: sessions and the webhook port do the sending.
 */
export class Router {
  readonly #sessions: SessionManager;
  readonly #tracker: RequestTracker;
  readonly #opts: RouterOptions;
  readonly #counters: RouterCounters;
  /** Origins that are sessions are resolved at delivery time, so a response follows a resumed or taken-over session. */
  readonly #centralTarget: ResponseTarget;
  readonly #objectTarget: ResponseTarget;

  constructor(sessions: SessionManager, tracker: RequestTracker, opts: RouterOptions, counters: RouterCounters) {
    this.#sessions = sessions;
    this.#tracker = tracker;
    this.#opts = opts;
    this.#counters = counters;
    this.#centralTarget = {
      deliverResponse: (uid, tracking, code, payload) =>
        void sessions.deliver(CENTRAL_UID, { type: ToT.RESPONSE, uid, tracking, code, payload }),
    };
    this.#objectTarget = {
      deliverResponse: (uid, tracking, code, payload) =>
        void sessions.deliver(uid, { type: ToT.RESPONSE, tracking, code, payload }),
    };
  }

  get centralTarget(): ResponseTarget {
    return this.#centralTarget;
  }

  /**
   * An object's Request (RTE=0): to the central's session, else the webhook, else 0xA0.
   * `at`: the clock's time it was read, when known (RequestTracker.beginWithin).
   */
  objectRequest(uid: string, tracking: number, payload: Payload, at?: number): void {
    const p = this.#tracker.beginWithin(this.#opts.maxInFlightPerObject, 'up', uid, tracking, this.#objectTarget, this.#opts.requestTimeoutMs, at);
    if (p === 'limit') {
      this.#counters.refused('object-in-flight-limit');
      return this.#objectTarget.deliverResponse(uid, tracking, ResponseCode.NOT_VALID, EMPTY_PAYLOAD, 'object-in-flight-limit');
    }
    if (p === 'in-progress') {
      this.#counters.refused('in-progress');
      return this.#objectTarget.deliverResponse(uid, tracking, ResponseCode.IN_PROGRESS, EMPTY_PAYLOAD, 'in-progress');
    }
    const central = this.#sessions.get(CENTRAL_UID);
    if (central) {
      const d = this.#sessions.deliver(CENTRAL_UID, { type: ToT.REQUEST, uid, tracking, payload }, p);
      if (d !== 'sent' && d !== 'buffered' && d !== 'forwarded') this.#refuse(p, d);
      return;
    }
    const remote = this.#opts.remote;
    if (remote) return remote.toCentral({ type: ToT.REQUEST, uid, tracking, payload }, p, () => this.#noCentral(p, payload));
    this.#noCentral(p, payload);
  }

  #noCentral(p: PendingRequest, payload: Payload): void {
    const hook = this.#opts.webhook;
    if (hook?.handlesRequests) return hook.forwardRequest(p, payload);
    this.#refuse(p, 'no-central');
  }

  /**
   * A request to an object from the TCP central (`origin` = the central) or the HTTP API
   * (`tracking` = -1: the concentrator picks a free number in the shared space).
   */
  centralRequest(uid: string, tracking: number, payload: Payload, origin: ResponseTarget = this.#centralTarget, timeoutMs = this.#opts.requestTimeoutMs, at?: number): number {
    const known = this.#opts.acl().has(uid);
    const here = this.#sessions.get(uid) !== undefined;
    const remote = this.#opts.remote;
    if (remote && known && !here) {
      // Not connected here: the node holding it tracks it (or this one, for a session kept in the fleet).
      remote.centralRequest(uid, tracking, payload, origin, timeoutMs, at);
      return tracking;
    }
    if (!known || !here) {
      const why = known ? 'no-session' : 'not-in-acl';
      this.#counters.refused(why);
      origin.deliverResponse(uid, tracking < 0 ? 0 : tracking, ResponseCode.NOT_FOUND, EMPTY_PAYLOAD, why);
      return tracking;
    }
    return this.trackCentralRequest(uid, tracking, payload, origin, timeoutMs, at);
  }

  /**
   * The part of centralRequest past the session check: limits, the tracking number, tracking,
   * delivery. A cluster's fleet calls it for an object kept in the fleet, tracked on this node.
   */
  trackCentralRequest(uid: string, tracking: number, payload: Payload, origin: ResponseTarget, timeoutMs: number, at?: number): number {
    const limit = this.#opts.maxInFlightPerTarget;
    let p: PendingRequest | 'limit' | 'in-progress' | undefined;
    if (tracking >= 0) p = this.#tracker.beginWithin(limit, 'down', uid, tracking, origin, timeoutMs, at);
    else if (this.#tracker.inFlight('down', uid) >= limit) p = 'limit';
    else {
      // The HTTP API's request: a free number in the shared space, if any.
      tracking = allocateTracking(this.#tracker, 'down', uid);
      p = tracking < 0 ? undefined : this.#tracker.begin('down', uid, tracking, origin, timeoutMs);
    }
    if (p === 'limit') {
      this.#counters.refused('target-in-flight-limit');
      origin.deliverResponse(uid, Math.max(tracking, 0), ResponseCode.NOT_VALID, EMPTY_PAYLOAD, 'target-in-flight-limit');
      return tracking;
    }
    if (p === undefined || p === 'in-progress') {
      const why = tracking < 0 ? 'tracking-exhausted' : 'in-progress';
      this.#counters.refused(why);
      origin.deliverResponse(uid, Math.max(tracking, 0), ResponseCode.IN_PROGRESS, EMPTY_PAYLOAD, why);
      return tracking;
    }
    const d = this.#sessions.deliver(uid, { type: ToT.REQUEST, tracking, payload }, p);
    if (d !== 'sent' && d !== 'buffered' && d !== 'forwarded') this.#refuse(p, d);
    return tracking;
  }

  /** An object's Response (RTE=0) to a request that came from the central side. */
  objectResponse(uid: string, tracking: number, code: number, payload: Payload, at?: number): void {
    if (this.#tracker.complete('down', uid, tracking, code, payload, at)) return;
    if (!this.#opts.remote?.response('down', uid, tracking, code, payload)) this.#counters.lateResponse('down', uid, tracking);
  }

  /** The central's Response (RTE=1, the object's UID) to an object's request. */
  centralResponse(uid: string, tracking: number, code: number, payload: Payload, at?: number): void {
    if (this.#tracker.complete('up', uid, tracking, code, payload, at)) return;
    if (!this.#opts.remote?.response('up', uid, tracking, code, payload)) this.#counters.lateResponse('up', uid, tracking);
  }

  /**
   * Valid UDP telemetry (PROTOCOL §7): the central's session, else the telemetry webhook. Says
   * where it went. While the central is kept and no webhook takes telemetry, it is buffered
   * for the central like its responses; more than the central's announced maximum is dropped.
   */
  telemetry(uid: string, payload: Payload): 'central' | 'webhook' | 'dropped' {
    const central = this.#sessions.get(CENTRAL_UID);
    const hook = this.#opts.webhook;
    if (central && (central.link || !hook?.handlesTelemetry)) {
      const d = this.#sessions.offer(CENTRAL_UID, { type: ToT.TELEMETRY, uid, payload });
      if (d === 'sent' || d === 'buffered' || d === 'forwarded') return 'central';
      this.#counters.telemetryDropped(d);
      return 'dropped';
    }
    const remote = this.#opts.remote;
    if (remote) {
      // The fleet's central, wherever it is (its drops are counted there); else the webhook.
      remote.telemetry(uid, payload, () => void this.#telemetryWithoutCentral(uid, payload), hook?.handlesTelemetry === true);
      return 'central';
    }
    return this.#telemetryWithoutCentral(uid, payload);
  }

  #telemetryWithoutCentral(uid: string, payload: Payload): 'webhook' | 'dropped' {
    const hook = this.#opts.webhook;
    if (hook?.handlesTelemetry) {
      hook.forwardTelemetry(uid, payload);
      return 'webhook';
    }
    this.#counters.telemetryDropped('no-central');
    return 'dropped';
  }

  /**
   * A transmission queued for `sessionUid`'s connection that never reached its socket (it
   * closed first, or the write failed): routed again as if it arrived now, so a kept session
   * buffers it behind nothing newer. A request already answered (0xA1) is not sent again.
   */
  redeliver(sessionUid: string, t: Transmission): void {
    switch (t.type) {
      case ToT.RESPONSE:
        void this.#sessions.deliver(sessionUid, t);
        return;
      case ToT.TELEMETRY:
        void this.telemetry(t.uid!, t.payload);
        return;
      case ToT.REQUEST: {
        const p = sessionUid === CENTRAL_UID ? this.#tracker.pending('up', t.uid!, t.tracking) : this.#tracker.pending('down', sessionUid, t.tracking);
        if (!p) return;
        const d = this.#sessions.deliver(sessionUid, t, p);
        if (d !== 'sent' && d !== 'buffered' && d !== 'forwarded') this.#refuse(p, d);
        return;
      }
      default: // Ping, Pong, Token, Close: they belonged to that connection only
    }
  }

  #refuse(p: PendingRequest, why: RefusalReason): void {
    this.#counters.refused(why);
    this.#tracker.fail(p, ResponseCode.NOT_FOUND, why);
  }
}
