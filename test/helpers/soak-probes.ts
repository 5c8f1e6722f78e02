import type { Dispatcher } from 'undici';
import type { SoakNode } from './soak-node.js';
import { until } from './until.js';

/** What the soak reads from its nodes over HTTP and /proc, each bounded and named on failure. */

export async function untilReady(nodes: readonly SoakNode[], agent: Dispatcher, ms: number): Promise<void> {
  await until(async () => (await Promise.all(nodes.map((n) => n.ready(agent)))).every(Boolean), `${nodes.map((n) => n.id).join(', ')} ready (GET /readyz 200)`, ms);
}

/** Nodes with requests still tracked or waiting for a remote answer: nothing may be, once every caller was answered. */
export async function leftTracked(nodes: readonly SoakNode[], agent: Dispatcher): Promise<string[]> {
  const out: string[] = [];
  for (const n of nodes) {
    const inFlight = await n.metric('iotsocket_requests_in_flight', agent);
    const remote = await n.metric('iotsocket_cluster_remote_requests', agent);
    if (inFlight !== 0 || remote !== 0) out.push(`${n.id}: ${inFlight} in flight, ${remote} waiting for a remote answer`);
  }
  return out;
}

/** Waits (up to `ms`) for every node's descriptors to be back to its baseline; returns what each holds then, back or not. */
export async function fdsBackTo(nodes: readonly SoakNode[], baseline: ReadonlyMap<string, string[]>, ms: number): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  await until(() => {
    for (const n of nodes) out.set(n.id, n.fds());
    return nodes.every((n) => out.get(n.id)!.length <= baseline.get(n.id)!.length);
  }, 'every node\'s descriptors back to their baseline', ms).catch(() => {}); // the caller's checks say which node and what
  return out;
}
