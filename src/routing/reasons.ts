import type { Delivery } from '../registry/session-manager.js';

// The reasons in one module that both the router and the tracker import, so neither imports the other's.

/** Why a request was answered instead of forwarded (also the HTTP `Reason`). */
export type RefusalReason = Exclude<Delivery, 'sent' | 'buffered' | 'forwarded'>
  | 'in-progress' | 'not-in-acl' | 'tracking-exhausted' | 'no-central' | 'object-in-flight-limit' | 'target-in-flight-limit'
  /** A cluster's shared engine (Redis) is away: refused at once, never left waiting (CLUSTER.md guarantee 8). */
  | 'cluster-unavailable' | 'not-kept'
  /** The node holding the object stopped renewing its lease (it died) before answering. */
  | 'node-lost';

/**
 * Why the concentrator answered a request itself: a routing refusal (not in the ACL, no
 * session, a full buffer...), the timeout, a buffered request dropped with its session,
 * shutdown, or a failed request webhook. The HTTP API shows it as `Reason`.
 */
export type GeneratedReason = RefusalReason | 'timeout' | 'session-ended' | 'shutdown' | 'webhook-error' | 'webhook-timeout';
