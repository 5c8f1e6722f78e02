import type { AclStore } from '../registry/acl-store.js';
import type { NodeInbox } from '../registry/node-inbox.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { SessionBuffers } from '../registry/session-buffers.js';
import type { SessionDirectory } from '../registry/session-directory.js';
import type { TokenStore } from '../registry/token-store.js';

/** Whether the shared engine answers: what /readyz and the fast refusals go by (CLUSTER.md guarantee 8). */
export type EngineReachability = 'reachable' | 'unreachable';

/**
 * The ports a node of a cluster shares with the others, on one engine (Redis), and what the
 * daemon needs to run them: reachability for /readyz, and one close for a graceful stop.
 */
export interface ClusterEngines {
  /** This node's id (`cluster.nodeId`). */
  readonly node: string;
  readonly directory: SessionDirectory;
  readonly buffers: SessionBuffers;
  readonly inbox: NodeInbox;
  readonly acl: AclStore;
  readonly tokens: TokenStore;
  readonly registry: NodeRegistry;
  /** Now: every command connection is ready. */
  readonly reachability: EngineReachability;
  /** Calls `fn` on each change of reachability; returns a function that stops it. */
  onReachability(fn: (r: EngineReachability) => void): () => void;
  /** Where the engine is, for logs (a URL with its password hidden). */
  readonly describe: string;
  /** Connects (built lazily, so the daemon can be wired before it starts); rejects with the reason, naming the engine, within a bounded time. */
  connect(): Promise<void>;
  /** Closes every connection (after the registry left the cluster); idempotent. */
  close(): Promise<void>;
}
