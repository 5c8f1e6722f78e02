/** What `GET /admin/drain` answers (src/cluster/drain.ts fills it, src/http/ops-api.ts serves it). */
export interface DrainStatus {
  readonly draining: boolean;
  /** Sessions per second being closed. */
  readonly rate: number;
  /** Connected sessions still on this node. */
  readonly sessionsLeft: number;
  /** Sessions handed off since the drain started. */
  readonly moved: number;
  /**
   * Requests this node still tracks or waits for (a device that moved answers through the node
   * that tracked its request): stopping the node before this is 0 would answer them 0xA0.
   */
  readonly inFlight: number;
  readonly startedAt: string | null;
  /**
   * Draining, no session and no request left, and every handoff settled (see DrainDeps.settleMs):
   * the node can be stopped without a device noticing more than a reconnect.
   */
  readonly done: boolean;
}
