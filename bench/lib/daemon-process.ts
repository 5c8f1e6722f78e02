import { Child, libScript } from './child.js';
import type { WireConfig } from './config.js';
import type { AllocationSite, GcSummary } from './gc-profile.js';

export interface DaemonProcess {
  readonly port: number;
  /** When the config turns them on. */
  readonly httpPort?: number;
  readonly udpPort?: number;
  readonly pid: number;
  /** Soft RLIMIT_NOFILE the daemon got. */
  readonly fdLimit: number;
  /**
   * process.memoryUsage() after two forced GCs, the bytes committed to V8's young generation
   * then (daemon-main.ts), and the daemon's open connection count.
   */
  memory(): Promise<DaemonMemory>;
  /** Writes a heap snapshot to `path` after two forced GCs; resolves with the path and the connection count. */
  heapSnapshot(path: string): Promise<{ path: string; connections: number }>;
  /** CPU time (user + system) the daemon process has used so far, in µs. */
  cpuMicros(): Promise<number>;
  /** The daemon's process.cpuUsage() (user + system µs since it started), and how many GCs memory() forced. */
  cpu(): Promise<NodeJS.CpuUsage & { forcedGcs: number }>;
  /** Non-zero telemetry and webhook counters, by metric and labels. */
  counters(): Promise<DaemonCounter[]>;
  /** Starts counting the daemon's garbage collections (gc-profile.ts). */
  gcStart(): void;
  /** What the collector did since gcStart(). */
  gcStop(): Promise<GcSummary>;
  /** Starts V8's sampling heap profiler in the daemon (collected objects counted too; with `survivors`, only what outlived a scavenge). */
  allocationStart(survivors?: boolean): Promise<void>;
  /** The top allocation sites since allocationStart(). */
  allocationStop(): Promise<{ totalBytes: number; sites: AllocationSite[] }>;
  stop(): Promise<void>;
}

export interface DaemonMemory {
  readonly usage: NodeJS.MemoryUsage;
  readonly youngBytes: number;
  readonly connections: number;
}

export interface DaemonCounter {
  readonly name: string;
  readonly values: ReadonlyArray<{ readonly labels: Readonly<Record<string, string | number>>; readonly value: number }>;
}

export interface DaemonProcessOptions {
  /** Directory for a --cpu-prof profile of the daemon; none when undefined. */
  readonly cpuProfDir?: string;
  readonly fdLimit?: number;
  /** More Node/V8 flags for the daemon (fixed-rr's `--daemon-flags`: e.g. a semi-space size to compare). */
  readonly execArgv?: readonly string[];
  /** How long the daemon may take to start (default 20 s): a cluster node reads the whole ACL first. */
  readonly readyTimeoutMs?: number;
}

/** Runs the concentrator alone in a child process, so its RSS and CPU are its own. */
export async function startDaemonProcess(config: WireConfig, opts: DaemonProcessOptions = {}): Promise<DaemonProcess> {
  const execArgv = ['--expose-gc', ...(opts.execArgv ?? [])];
  if (opts.cpuProfDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir);
  const child = new Child(libScript('daemon-main'), config, { execArgv, fdLimit: opts.fdLimit, name: 'daemon' });
  let ready;
  try {
    ready = await child.next<{ type: 'ready'; port: number; httpPort?: number; udpPort?: number; fdLimit: number; pid: number }>('ready', opts.readyTimeoutMs ?? 20_000);
  } catch (err) {
    child.proc.kill('SIGKILL');
    throw err;
  }
  const cpu = async () => {
    child.send({ type: 'cpu' });
    const m = await child.next<{ type: 'cpu'; usage: NodeJS.CpuUsage; forcedGcs: number }>('cpu', 30_000);
    return { ...m.usage, forcedGcs: m.forcedGcs };
  };
  return {
    port: ready.port,
    httpPort: ready.httpPort,
    udpPort: ready.udpPort,
    pid: ready.pid,
    fdLimit: ready.fdLimit,
    async memory() {
      child.send({ type: 'mem' });
      const m = await child.next<{ type: 'mem' } & DaemonMemory>('mem', 30_000);
      return { usage: m.usage, youngBytes: m.youngBytes, connections: m.connections };
    },
    async heapSnapshot(path: string) {
      child.send({ type: 'heap', path });
      const m = await child.next<{ type: 'heap'; path: string; connections: number }>('heap', 120_000);
      return { path: m.path, connections: m.connections };
    },
    cpu,
    async cpuMicros() {
      const u = await cpu();
      return u.user + u.system;
    },
    async counters() {
      child.send({ type: 'counters' });
      return (await child.next<{ type: 'counters'; metrics: DaemonCounter[] }>('counters', 30_000)).metrics;
    },
    gcStart: () => child.send({ type: 'gc-start' }),
    async gcStop() {
      child.send({ type: 'gc-stop' });
      return (await child.next<{ type: 'gc'; summary: GcSummary }>('gc', 30_000)).summary;
    },
    async allocationStart(survivors = false) {
      child.send({ type: 'alloc-start', survivors });
      await child.next('alloc-started', 30_000);
    },
    async allocationStop() {
      child.send({ type: 'alloc-stop' });
      return child.next<{ type: 'alloc'; totalBytes: number; sites: AllocationSite[] }>('alloc', 60_000);
    },
    stop: () => child.stop(15_000),
  };
}
