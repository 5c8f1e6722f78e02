import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { BoundAddresses } from '../daemon.js';
import { ExitCode, type CliIo } from './io.js';
import { DEFAULT_RESTART_POLICY, RestartPolicy, type RestartPolicyOptions } from './worker-restarts.js';
import { WORKER_INDEX_ENV, WORKER_NODE_ID_ENV, workerNodeId, type WorkerReady } from './workers.js';

/** After the first stop signal, workers still running this much later are killed (exit 2). */
const STOP_GUARD_MS = 20_000;

export interface SuperviseOptions {
  readonly count: number;
  /** The configured cluster.nodeId (or the primary's default); worker i is `<base>-i`. */
  readonly baseNodeId: string;
  readonly logger: Logger;
  readonly io: CliIo;
  /** Called once, when every worker listens, with the first one's addresses (they all share them). */
  readonly listening: (addresses: BoundAddresses, nodes: readonly string[]) => void;
  readonly policy?: RestartPolicyOptions;
}

interface Slot {
  readonly index: number;
  readonly nodeId: string;
  worker?: Worker;
  readyAt?: number;
  restartTimer?: NodeJS.Timeout;
}

/**
 * The primary of `start --workers N`: forks the workers one after the other (the first seeds the
 * cluster's ACL before the next looks), restarts one that dies (RestartPolicy), forwards
 * SIGTERM/SIGINT/SIGHUP to every worker, and resolves with the exit code once all have exited.
 * It holds no session itself; node:cluster makes it the owner of the shared listeners.
 */
export function superviseWorkers(o: SuperviseOptions): Promise<number> {
  return new Supervisor(o).run();
}

class Supervisor {
  readonly #o: SuperviseOptions;
  readonly #log: Logger;
  readonly #policy: RestartPolicy;
  readonly #slots: Slot[];
  #stopping = false;
  #code: number = ExitCode.OK;
  #done!: (code: number) => void;
  readonly #finished = new Promise<number>((resolve) => { this.#done = resolve; });
  #guard: NodeJS.Timeout | undefined;
  /** The stop signal sent to the workers. */
  #forwarded: NodeJS.Signals | undefined;
  /** Slots whose worker listened at least once: a later death is restarted, a first one fails the start. */
  readonly #everReady = new Set<number>();

  constructor(o: SuperviseOptions) {
    this.#o = o;
    this.#log = o.logger.child({ role: 'primary' });
    this.#policy = new RestartPolicy(o.policy ?? DEFAULT_RESTART_POLICY);
    this.#slots = Array.from({ length: o.count }, (_, i) => ({ index: i + 1, nodeId: workerNodeId(o.baseNodeId, i + 1) }));
  }

  async run(): Promise<number> {
    const { signals } = this.#o.io;
    signals.on('SIGTERM', this.#onStop);
    signals.on('SIGINT', this.#onStop);
    signals.on('SIGHUP', this.#onHup);
    const scheduling = cluster.schedulingPolicy === cluster.SCHED_RR ? 'rr' : 'none';
    this.#log.info({ event: 'workers-starting', workers: this.#o.count, scheduling, nodes: this.#slots.map((s) => s.nodeId) },
      `starting ${this.#o.count} workers (scheduling ${scheduling})`);
    let first: BoundAddresses | undefined;
    for (const slot of this.#slots) {
      const ready = await this.#fork(slot);
      if (this.#stopping) break;
      if (!ready) {
        this.#log.error({ event: 'worker-start-failed', worker: slot.index, node: slot.nodeId }, `worker ${slot.index} exited before it listened: stopping`);
        this.#stop('SIGTERM', ExitCode.RUNTIME);
        break;
      }
      first ??= ready.addresses;
    }
    if (!this.#stopping && first) this.#o.listening(first, this.#slots.map((s) => s.nodeId));
    return this.#finished;
  }

  /** Forks `slot`'s worker; resolves with its ready message, or undefined if it exited first. */
  #fork(slot: Slot): Promise<WorkerReady | undefined> {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(slot.index), [WORKER_NODE_ID_ENV]: slot.nodeId });
    slot.worker = worker;
    slot.readyAt = undefined;
    const forkedAt = performance.now();
    this.#log.info({ event: 'worker-forked', worker: slot.index, node: slot.nodeId, pid: worker.process.pid }, `worker ${slot.index} (node ${slot.nodeId}) forked, pid ${worker.process.pid}`);
    return new Promise((resolve) => {
      worker.on('message', (m: WorkerReady) => {
        if (m?.type !== 'iots-worker-ready' || slot.worker !== worker) return;
        slot.readyAt = performance.now();
        this.#everReady.add(slot.index);
        this.#log.info({ event: 'worker-ready', worker: slot.index, node: slot.nodeId, pid: worker.process.pid, startMs: Math.round(slot.readyAt - forkedAt) },
          `worker ${slot.index} (node ${slot.nodeId}, pid ${worker.process.pid}) listening`);
        resolve(m);
      });
      worker.once('exit', (code, signal) => {
        const wasReady = slot.readyAt !== undefined;
        this.#exited(slot, worker, code, signal);
        if (!wasReady) resolve(undefined);
      });
    });
  }

  #exited(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    const upMs = slot.readyAt === undefined ? 0 : performance.now() - slot.readyAt;
    const fields = { worker: slot.index, node: slot.nodeId, pid: worker.process.pid, code, signal };
    if (this.#stopping) {
      this.#log.info({ event: 'worker-exited', ...fields }, `worker ${slot.index} exited (${signal ?? code})`);
      // A worker that had not listened yet may have had no signal handlers: the forwarded signal's
      // default action ended it, holding nothing. That is a graceful stop, as a single node's during its start.
      const clean = code === 0 || (slot.readyAt === undefined && signal === this.#forwarded);
      if (this.#code === ExitCode.OK && !clean) this.#code = code ?? ExitCode.FORCED;
      if (this.#live().length === 0) this.#finish();
      return;
    }
    // Died before its first ready ever, during the initial start: run() decides (the start failed).
    if (!this.#everReady.has(slot.index)) return;
    const decision = this.#policy.died(slot.index, upMs);
    if (!decision.restart) {
      this.#log.error({ event: 'worker-gave-up', ...fields, quickDeaths: decision.quickDeaths }, `worker ${slot.index} died ${decision.quickDeaths} times in a row: stopping all workers`);
      this.#stop('SIGTERM', ExitCode.RUNTIME);
      return;
    }
    this.#log.warn({ event: 'worker-died', ...fields, upMs: Math.round(upMs), restartInMs: decision.delayMs },
      `worker ${slot.index} (node ${slot.nodeId}) died (${signal ?? `exit ${code}`}): restarting it in ${decision.delayMs} ms`);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (!this.#stopping) void this.#fork(slot);
    }, decision.delayMs);
  }


  readonly #onStop = (signal: NodeJS.Signals): void => {
    if (this.#stopping) {
      // A second signal: the workers tell a duplicate Ctrl-C from "stop at once" themselves.
      for (const w of this.#live()) w.process.kill(signal);
      return;
    }
    this.#log.info({ event: 'workers-stopping', signal }, `${signal}: stopping ${this.#live().length} workers`);
    this.#stop(signal, ExitCode.OK);
  };

  readonly #onHup = (): void => {
    for (const w of this.#live()) w.process.kill('SIGHUP');
  };

  #stop(signal: NodeJS.Signals, code: number): void {
    this.#stopping = true;
    this.#forwarded = signal;
    this.#code = code;
    for (const s of this.#slots) clearTimeout(s.restartTimer);
    for (const w of this.#live()) w.process.kill(signal);
    this.#guard = setTimeout(() => {
      this.#log.warn({ event: 'workers-killed', workers: this.#live().map((w) => w.process.pid) }, `workers still running ${STOP_GUARD_MS} ms after the stop: killed`);
      this.#code = ExitCode.FORCED;
      for (const w of this.#live()) w.process.kill('SIGKILL');
    }, STOP_GUARD_MS);
    if (this.#live().length === 0) this.#finish();
  }

  #live(): Worker[] {
    return this.#slots.flatMap((s) => (s.worker ? [s.worker] : []));
  }

  #finish(): void {
    clearTimeout(this.#guard);
    const { signals } = this.#o.io;
    signals.removeListener('SIGTERM', this.#onStop);
    signals.removeListener('SIGINT', this.#onStop);
    signals.removeListener('SIGHUP', this.#onHup);
    this.#log.info({ event: 'workers-stopped', code: this.#code }, 'all workers stopped');
    this.#done(this.#code);
  }
}
