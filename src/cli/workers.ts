import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';
import type { Config } from '../config/types.js';
import { NODE_ID_PATTERN } from '../config/cluster.js';
import type { BoundAddresses } from '../daemon.js';

/**
 * `iotsocket start --workers N`: N nodes of one cluster in one host's processes (node:cluster),
 * sharing the TCP, UDP and HTTP listeners. This file is what both sides agree on: the option,
 * a worker's identity (passed by the primary in its environment) and its config.
 */

/** More would be a fork bomb by typo; a host with more cores runs several primaries. */
export const MAX_WORKERS = 64;

/** The primary's environment for a worker: its index and its node id. Not IOTSOCKET_*: those are config overrides. */
export const WORKER_INDEX_ENV = 'IOTS_WORKER_INDEX';
export const WORKER_NODE_ID_ENV = 'IOTS_WORKER_NODE_ID';

/** The IPC message a worker sends once it listens (the primary's "ready"). */
export interface WorkerReady {
  readonly type: 'iots-worker-ready';
  readonly node: string;
  readonly addresses: BoundAddresses;
}

/** commander's parser for `--workers`: `auto` (os.availableParallelism()) or 1..MAX_WORKERS. */
export function parseWorkers(value: string): number {
  if (value === 'auto') return Math.min(MAX_WORKERS, availableParallelism());
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_WORKERS) throw new InvalidArgumentError(`must be "auto" or an integer from 1 to ${MAX_WORKERS}`);
  return n;
}

/**
 * Worker `index`'s node id: the configured id (or the primary's default) and `-index`, the base
 * shortened if it must be to stay a valid id. Stable while the primary runs, so a restarted
 * worker takes up what its predecessor held (Fleet's adoption of a previous run).
 */
export function workerNodeId(base: string, index: number): string {
  const tail = `-${index}`;
  return base.slice(0, 64 - tail.length) + tail;
}

export interface WorkerIdentity {
  readonly index: number;
  readonly nodeId: string;
}

/** This process's identity when it is a worker forked by `start --workers`; undefined otherwise. */
export function workerIdentity(env: NodeJS.ProcessEnv = process.env): WorkerIdentity | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(env[WORKER_INDEX_ENV]);
  const nodeId = env[WORKER_NODE_ID_ENV];
  if (!Number.isInteger(index) || index < 1 || nodeId === undefined || !NODE_ID_PATTERN.test(nodeId)) return undefined;
  return { index, nodeId };
}

/**
 * A worker's config: its own node id and, when an admin listener has a fixed port, its own
 * admin port (`admin.port + index - 1`): one scrape of /metrics or /readyz is then one worker's
 * figures, never a different worker's on each connection. The rest is shared by every worker.
 */
export function workerConfig(config: Config, id: WorkerIdentity): Config {
  if (!config.cluster) throw new Error('a worker needs config.cluster (checked by the primary)');
  const admin = config.admin && config.admin.port !== 0 ? { ...config.admin, port: config.admin.port + id.index - 1 } : config.admin;
  return Object.freeze({ ...config, cluster: { ...config.cluster, nodeId: id.nodeId }, ...(admin ? { admin } : {}) });
}

/** Tells the primary that this worker listens. */
export function reportReady(node: string, addresses: BoundAddresses): void {
  const msg: WorkerReady = { type: 'iots-worker-ready', node, addresses };
  process.send?.(msg);
}

/** After the worker's run: leave the primary's IPC channel so the process ends by itself with its exit code. */
export function leavePrimary(): void {
  // cluster.worker.disconnect() marks the leave as intended; a bare process.disconnect() makes node exit(0) at once.
  if (cluster.worker?.isConnected()) cluster.worker.disconnect();
}
