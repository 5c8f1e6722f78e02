import { GCProfiler, getHeapStatistics } from 'node:v8';

/** What V8's collector did over a span of a child's life (fixed-rr's `--gc`, issue 14's latency work). */
export interface GcSummary {
  /** Young-generation collections (V8's 'Scavenge'). */
  readonly scavenges: number;
  /** Full collections and incremental-marking steps ('MarkSweepCompact', 'IncrementalMarking', …). */
  readonly other: number;
  /** Pause time of the scavenges, µs in all, and the longest one. */
  readonly scavengeUs: number;
  readonly maxScavengeUs: number;
  /** The median scavenge pause, µs: on a shared machine the mean takes in the times the collector was descheduled. */
  readonly medianScavengeUs: number;
  /** Bytes of V8's young generation (new space) after the last scavenge: how much it allocates between two. */
  readonly newSpaceBytes: number;
  /** Pause time of the others, µs. */
  readonly otherUs: number;
  /**
   * Bytes allocated on the JavaScript heap over the span: the used heap before each collection
   * less the used heap after the one before (the first from the span's start), plus what is used
   * at its end beyond the last collection's result. Allocation between collections is all the
   * heap ever grows by, so this is exact up to what a collection itself allocates.
   */
  readonly allocatedBytes: number;
  /** Bytes a scavenge kept in the young generation or promoted, on average: what its pause follows. */
  readonly survivedPerScavenge: number;
}

let profiler: GCProfiler | undefined;
let usedAtStart = 0;

/** Child side: starts counting (a running span is restarted). */
export function startGcProfile(): void {
  profiler?.stop();
  profiler = new GCProfiler();
  usedAtStart = getHeapStatistics().used_heap_size;
  profiler.start();
}

interface Stat {
  gcType: string;
  cost: number;
  beforeGC: { heapStatistics: { usedHeapSize: number }; heapSpaceStatistics: Array<{ spaceName: string; spaceUsedSize: number; spaceSize: number }> };
  afterGC: { heapStatistics: { usedHeapSize: number }; heapSpaceStatistics: Array<{ spaceName: string; spaceUsedSize: number; spaceSize: number }> };
}

/** Child side: the span since startGcProfile(). */
export function stopGcProfile(): GcSummary {
  const usedAtEnd = getHeapStatistics().used_heap_size;
  const stats = ((profiler?.stop() as { statistics?: Stat[] } | undefined)?.statistics ?? []);
  profiler = undefined;
  let allocated = 0;
  let prevAfter = usedAtStart;
  let scavenges = 0;
  let other = 0;
  let scavengeUs = 0;
  let maxScavengeUs = 0;
  let otherUs = 0;
  let survived = 0;
  const pauses: number[] = [];
  let newSpaceBytes = 0;
  for (const s of stats) {
    allocated += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - prevAfter);
    prevAfter = s.afterGC.heapStatistics.usedHeapSize;
    if (s.gcType === 'Scavenge') {
      scavenges++;
      scavengeUs += s.cost;
      maxScavengeUs = Math.max(maxScavengeUs, s.cost);
      pauses.push(s.cost);
      newSpaceBytes = s.afterGC.heapSpaceStatistics.find((sp) => sp.spaceName === 'new_space')?.spaceSize ?? 0;
      const young = (x: Stat['afterGC']) => x.heapSpaceStatistics.find((sp) => sp.spaceName === 'new_space')?.spaceUsedSize ?? 0;
      const old = (x: Stat['afterGC']) => x.heapSpaceStatistics.find((sp) => sp.spaceName === 'old_space')?.spaceUsedSize ?? 0;
      survived += young(s.afterGC) + Math.max(0, old(s.afterGC) - old(s.beforeGC));
    } else {
      other++;
      otherUs += s.cost;
    }
  }
  allocated += Math.max(0, usedAtEnd - prevAfter);
  pauses.sort((a, b) => a - b);
  const medianScavengeUs = pauses.length ? pauses[pauses.length >> 1]! : 0;
  return { scavenges, other, scavengeUs, maxScavengeUs, medianScavengeUs, newSpaceBytes, otherUs, allocatedBytes: allocated, survivedPerScavenge: scavenges ? survived / scavenges : 0 };
}

/** One allocation site of the sampling heap profiler: bytes sampled there (collected objects included), its share. */
export interface AllocationSite {
  readonly site: string;
  readonly bytes: number;
  readonly share: number;
}

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

let sampler: import('node:inspector').Session | undefined;

function post<T>(method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => sampler!.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));
}

/**
 * Child side: V8's sampling heap profiler, counting objects the collector has since freed too
 * (a round trip's garbage is what makes the scavenges). Interval in bytes: a sample per that many allocated.
 * `survivors`: leave out what a scavenge freed, so what is left is what outlived one (what a scavenge copies, its pause).
 */
export async function startAllocationSampling(intervalBytes = 512, survivors = false): Promise<void> {
  const { Session } = await import('node:inspector');
  sampler ??= new Session();
  sampler.connect();
  await post('HeapProfiler.startSampling', { samplingInterval: intervalBytes, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !survivors });
}

/** Child side: the top `n` sites by bytes since startAllocationSampling(), with the caller of each (`site < caller`). */
export async function stopAllocationSampling(n = 25): Promise<{ totalBytes: number; sites: AllocationSite[] }> {
  const { profile } = await post<{ profile: { head: SamplingNode } }>('HeapProfiler.stopSampling');
  sampler!.disconnect();
  const bySite = new Map<string, number>();
  let total = 0;
  const name = (cf: SamplingNode['callFrame']): string => {
    const where = cf.url.replace(/^file:\/\//, '').replace(/.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '');
    return `${cf.functionName || '(anonymous)'}${where ? ` ${where}:${cf.lineNumber + 1}` : ''}`;
  };
  const walk = (node: SamplingNode, parent: SamplingNode | undefined): void => {
    if (node.selfSize > 0) {
      const key = `${name(node.callFrame)}${parent ? ` < ${name(parent.callFrame)}` : ''}`;
      bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const c of node.children) walk(c, node);
  };
  walk(profile.head, undefined);
  const sites = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, n).map(([site, bytes]) => ({ site, bytes, share: bytes / total }));
  return { totalBytes: total, sites };
}
