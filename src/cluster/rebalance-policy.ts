/**
 * Where a new client goes (PROTOCOL §3 step 2): accepted here, redirected to another node, or
 * refused. Pure: no I/O, no clock; the wiring feeds it this node's load and its peers' as last
 * announced (src/cluster/peer-loads.ts).
 */

/** A client-reachable address: the content of a redirect rule. */
export interface Advertised {
  readonly host: string;
  readonly port: number;
}

/** A live peer as its heartbeat announced it. */
export interface PeerLoad {
  readonly node: string;
  /** Undefined: it announced no address clients can reach (bound to a wildcard, no `cluster.advertise`): never a target. */
  readonly advertise: Advertised | undefined;
  readonly sessions: number;
  readonly draining: boolean;
}

export interface RebalanceSettings {
  readonly enabled: boolean;
  /** Redirect while own sessions > threshold × the mean of the nodes that take sessions (> 1). */
  readonly threshold: number;
  /** ...and own sessions > floor: a small cluster is never rebalanced. */
  readonly floor: number;
}

export interface OwnLoad {
  readonly node: string;
  readonly sessions: number;
  readonly draining: boolean;
}

export type Placement =
  | { readonly action: 'accept' }
  | { readonly action: 'redirect'; readonly node: string; readonly to: Advertised; readonly reason: 'draining' | 'rebalance' }
  /** Draining with no node to send the client to: OK=0, no rule. */
  | { readonly action: 'refuse'; readonly reason: 'draining' };

const ACCEPT: Placement = Object.freeze({ action: 'accept' });

/** Peers that can take a client: reachable, not draining, not this node. Least loaded first, ties by node id. */
export function candidates(self: string, peers: readonly PeerLoad[]): PeerLoad[] {
  return peers
    .filter((p) => p.node !== self && !p.draining && p.advertise !== undefined)
    .sort((a, b) => a.sessions - b.sessions || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

/**
 * A draining node sends every new client to the least loaded candidate (none: refuse). Otherwise,
 * with rebalancing on, a node above both `threshold` × the mean (own load and the candidates'
 * loads) and `floor` sends it to the least loaded candidate if that one holds fewer sessions;
 * anything else is accepted.
 */
export function place(own: OwnLoad, peers: readonly PeerLoad[], settings: RebalanceSettings): Placement {
  const open = candidates(own.node, peers);
  const least = open[0];
  if (own.draining) return least ? redirect(least, 'draining') : { action: 'refuse', reason: 'draining' };
  if (!settings.enabled || !least || own.sessions <= settings.floor) return ACCEPT;
  const mean = (own.sessions + open.reduce((n, p) => n + p.sessions, 0)) / (open.length + 1);
  if (own.sessions <= settings.threshold * mean || least.sessions >= own.sessions) return ACCEPT;
  return redirect(least, 'rebalance');
}

function redirect(p: PeerLoad, reason: 'draining' | 'rebalance'): Placement {
  return { action: 'redirect', node: p.node, to: p.advertise!, reason };
}
