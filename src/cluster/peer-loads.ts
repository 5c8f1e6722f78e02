import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { PeerLoad } from './rebalance-policy.js';

/**
 * The live nodes' loads as their heartbeats announced them, read once per heartbeat, so that
 * placing a new client (a synchronous step of the handshake) costs no round trip. Between two
 * reads, each client sent to a peer counts toward its load here: a burst of new clients is
 * spread over the least loaded nodes instead of all landing on the one that was least loaded.
 */
export class PeerLoads {
  readonly #registry: NodeRegistry;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #everyMs: number;
  #peers: PeerLoad[] = [];
  readonly #sent = new Map<string, number>();
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(registry: NodeRegistry, deps: { clock: Clock; log: Logger }, everyMs: number) {
    this.#registry = registry;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#everyMs = everyMs;
  }

  /** The peers as last read, with the clients sent to each since counted in. */
  get peers(): readonly PeerLoad[] {
    if (this.#sent.size === 0) return this.#peers;
    return this.#peers.map((p) => ({ ...p, sessions: p.sessions + (this.#sent.get(p.node) ?? 0) }));
  }

  /** A client was redirected to `node`. */
  sentTo(node: string): void {
    this.#sent.set(node, (this.#sent.get(node) ?? 0) + 1);
  }

  /** Reads now, then once per heartbeat until stop(). */
  start(): Promise<void> {
    return this.refresh().finally(() => this.#schedule());
  }

  /** Reads the registry now; a failed read keeps the last view (logged at debug: the registry's own lapse is what is loud). */
  async refresh(): Promise<void> {
    try {
      const live = await this.#registry.live();
      this.#peers = live.map((n) => ({ node: n.node, advertise: n.advertise, sessions: n.sessions, draining: n.draining === true }));
      this.#sent.clear();
    } catch (err) {
      this.#log.debug({ event: 'peer-loads-unread', err: String(err) }, 'peer loads not read; the last view stays');
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => void this.refresh().finally(() => this.#schedule()), this.#everyMs);
  }
}
