import type { Verdict } from './chaos-model.js';

/** What a soak is told (test/helpers/soak-world.ts) and what it reports (test/cluster/soak.test.ts judges it). */

export interface SoakOptions {
  readonly seed: number;
  /** Traffic and faults last this long; then everything settles and is measured. */
  readonly durationMs: number;
  /** Milliseconds between faults (a node kill, a device or central move), drawn in [lo, hi]. */
  readonly faultEveryMs: readonly [number, number];
  /** Milliseconds between requests; a datagram goes with about every second one. */
  readonly requestGapMs: number;
}

export interface NodeFigures {
  readonly id: string;
  readonly starts: number;
  /** KiB: after warm-up (for a killed node: a while after its last start) and at the end of traffic. */
  readonly rssWarmKiB: number;
  readonly rssEndKiB: number;
  /** Descriptors at its first start with no client, and at the end once every session ended. */
  readonly fdsBaseline: number;
  readonly fdsEnd: number;
  readonly fdsEndKinds: Record<string, number>;
  readonly fdsBaselineKinds: Record<string, number>;
  readonly crashes: readonly string[];
}

export interface SoakReport {
  readonly verdict: Verdict;
  readonly elapsedMs: number;
  /** When each part of the run ended (ms since the start): start, traffic, heal, settle, sessions ended, descriptors. */
  readonly phases: Record<string, number>;
  readonly requests: { readonly tcp: number; readonly http: number };
  readonly faults: Record<string, number>;
  /** Stalls nobody planned (Redis or this machine answering late), each a fleet disturbance (test/helpers/stall-watch.ts). */
  readonly stalls: { readonly count: number; readonly longestMs: number; readonly seen: readonly string[] };
  readonly telemetry: {
    readonly sent: number;
    readonly central: number;
    readonly webhook: number;
    readonly calmSent: number;
    readonly calmMissing: readonly string[];
    readonly violations: readonly string[];
    /** iotsocket_telemetry_datagrams_total by labels, summed over the nodes' current runs. */
    readonly atNodes: Record<string, number>;
  };
  readonly nodes: readonly NodeFigures[];
  readonly redis: {
    readonly memWarm: number;
    readonly memEnd: number;
    readonly persistentBaseline: readonly string[];
    readonly persistentEnd: readonly string[];
    readonly expiringEnd: number;
    readonly sessionsLeft: number;
    /** Members of the fleet's token index at the end (each lapses with its token). */
    readonly tokenIndex: number;
  };
  readonly trace: readonly string[];
}
