import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { prepareFirstStart } from '../config/bootstrap.js';
import { finishConfig, readConfigDraft } from '../config/load.js';
import { aclFileIssues } from './acl-file-issue.js';
import { choosePretty, createLogger } from '../observability/logger.js';
import { DEFAULT_CONFIG, ExitCode, printIssues, readConfigText, type CliIo } from './io.js';
import type { Config } from '../config/types.js';
import { IotsError, formatIssue } from '../errors.js';
import type { ReloadResult } from '../daemon.js';
import type { Metrics } from '../observability/metrics.js';
import { superviseWorkers } from './worker-supervisor.js';
import { leavePrimary, parseWorkers, reportReady, workerConfig, workerIdentity, type WorkerIdentity } from './workers.js';
import { releaseYoungGeneration } from './young-generation.js';
import { releaseTierUp } from './tier-up.js';

/** A repeat of the first signal within this is the same Ctrl-C delivered twice, not a second signal. */
const DUPLICATE_SIGNAL_MS = 1000;

/** After close() or destroy(), a process that still has open handles is ended this much later. */
const EXIT_GUARD_MS = 5000;

interface Running {
  close(): Promise<void>;
  destroy(): void;
  reload(next?: Config): Promise<ReloadResult>;
}

function describeAddresses(addrs: Record<string, { address: string; port: number } | undefined>): string {
  return Object.entries(addrs)
    .filter(([, a]) => a)
    .map(([name, a]) => `${name} ${a!.address}:${a!.port}`)
    .join(', ');
}

/** SIGHUP: re-read the config file and apply what can be applied without dropping sessions. */
async function reloadFromFile(c: Running, file: string, logger: Logger, io: CliIo): Promise<void> {
  try {
    const draft = readConfigDraft(await readFile(file, 'utf8'), { file, baseDir: io.cwd, env: io.env });
    const done = draft.draft ? finishConfig(draft.draft) : undefined;
    if (!done?.config) {
      const issues = done?.errors ?? draft.errors;
      logger.error({ event: 'reload-failed', issues }, 'SIGHUP: config file invalid; nothing changed');
      return;
    }
    const r = await c.reload(done.config);
    if (r.restartNeeded.length) logger.warn({ event: 'restart-needed', keys: r.restartNeeded }, `SIGHUP: not applied until a restart (changed since start): ${r.restartNeeded.join(', ')}`);
  } catch (err) {
    logger.error({ event: 'reload-failed', err: (err as Error).message }, 'SIGHUP: reload failed; nothing changed');
  }
}

/**
 * Signals that arrive before the daemon runs (bootstrap, loading, binding): remembered, not
 * fatal, so a supervisor's SIGTERM at any point is a graceful stop (exit 0), never a kill.
 */
function earlySignals(io: CliIo): { readonly first: NodeJS.Signals | undefined; stop(): void } {
  let first: NodeJS.Signals | undefined;
  const on = (signal: NodeJS.Signals) => { first ??= signal; };
  io.signals.on('SIGTERM', on);
  io.signals.on('SIGINT', on);
  return {
    get first() { return first; },
    stop() {
      io.signals.removeListener('SIGTERM', on);
      io.signals.removeListener('SIGINT', on);
    },
  };
}

/**
 * First signal: orderly close() then 0. Second signal: destroy() then 1. SIGHUP: reload.
 * The handlers are in place when this returns; `pending`: a signal that came before.
 */
function untilSignal(c: Running, logger: Logger, io: CliIo, configFile: string, pending?: NodeJS.Signals): Promise<number> {
  return new Promise((resolve) => {
    let signals = 0;
    const onHup = () => void reloadFromFile(c, configFile, logger, io);
    io.signals.on('SIGHUP', onHup);
    const finish = (code: number) => {
      io.signals.removeListener('SIGHUP', onHup);
      io.signals.removeListener('SIGTERM', onSignal);
      io.signals.removeListener('SIGINT', onSignal);
      resolve(code);
      const guard = setTimeout(() => {
        logger.warn('handles still open after shutdown; forcing exit');
        io.exit(code);
      }, EXIT_GUARD_MS);
      guard.unref();
    };
    let firstAt = 0;
    let firstSignal: NodeJS.Signals | undefined;
    function onSignal(signal: NodeJS.Signals) {
      // Ctrl-C under `npm start` arrives twice: from the terminal (the whole process group)
      // and forwarded by npm. That is one keypress, not the "stop at once" second signal.
      if (signals === 1 && signal === firstSignal && performance.now() - firstAt < DUPLICATE_SIGNAL_MS) {
        logger.debug({ signal }, 'same signal again at once (terminal and npm both deliver Ctrl-C): still stopping gracefully');
        return;
      }
      if (signals === 0) { firstAt = performance.now(); firstSignal = signal; }
      signals += 1;
      if (signals === 1) {
        logger.info({ signal }, 'shutting down (another signal, or this one again a second or more later, stops at once)');
        c.close().then(
          () => { logger.info('stopped'); finish(ExitCode.OK); },
          (err: unknown) => { logger.error({ err }, 'error while closing'); finish(ExitCode.RUNTIME); },
        );
      } else if (signals === 2) {
        logger.warn({ signal }, 'second signal: destroying every connection');
        c.destroy();
        finish(ExitCode.FORCED);
      }
    }
    io.signals.on('SIGTERM', onSignal);
    io.signals.on('SIGINT', onSignal);
    if (pending) onSignal(pending);
  });
}

export interface StartOptions {
  config: string;
  pretty?: boolean;
  /** `--workers N`: this process is the primary of N worker nodes (src/cli/worker-supervisor.ts). */
  workers?: number;
}

/** Bootstrap (first start), load the config, start the daemon and run until a signal. */
export async function runStart(opts: StartOptions, io: CliIo): Promise<number> {
  const early = earlySignals(io);
  // A worker forked by `--workers` runs this same command: it is one node, never a primary.
  const worker = workerIdentity();
  try {
    return await startAndRun(opts, io, early, worker);
  } finally {
    early.stop();
    if (worker) leavePrimary();
  }
}

async function startAndRun(opts: StartOptions, io: CliIo, early: ReturnType<typeof earlySignals>, worker: WorkerIdentity | undefined): Promise<number> {
  const text = await readConfigText(opts.config, io);
  if (text === undefined) return ExitCode.CONFIG;
  const first = readConfigDraft(text, { file: opts.config, baseDir: io.cwd, env: io.env });
  if (!first.draft) {
    printIssues(io, first.errors, opts.config);
    return ExitCode.CONFIG;
  }
  if (opts.workers !== undefined && !worker && first.draft.raw.cluster === undefined) {
    // Before the bootstrap: a refused start creates no file.
    io.err(`${formatIssue({ path: 'cluster.redis', message: `--workers ${opts.workers} runs ${opts.workers} nodes of one cluster, which share their sessions through Redis: set cluster.redis (README, "Several nodes on one host")` }, opts.config)}\n`);
    return ExitCode.CONFIG;
  }
  const { level, pretty } = first.draft.raw.log;
  const destination = choosePretty(opts.pretty, pretty, process.stdout.isTTY === true)
    ? (await import('../observability/pretty-stream.js')).prettyStream()
    : undefined;
  const root = createLogger({ level, destination });
  const logger = worker ? root.child({ worker: worker.index }) : root;
  for (const w of first.warnings) logger.warn(w);
  try {
    // Before the final load: it creates the files the final load then reads.
    await prepareFirstStart(first.draft.raw, logger);
  } catch (err) {
    io.err(`iotsocket: ${(err as Error).message}\n`);
    return ExitCode.RUNTIME;
  }
  const done = finishConfig(first.draft);
  const errors = [...done.errors, ...(done.config ? await aclFileIssues(first.draft) : [])];
  if (!done.config || errors.length > 0) {
    printIssues(io, errors, opts.config);
    return ExitCode.CONFIG;
  }
  for (const w of done.warnings) logger.warn(w);
  if (early.first) {
    logger.info({ signal: early.first }, 'stopped before starting');
    return ExitCode.OK;
  }
  if (opts.workers !== undefined && !worker) {
    early.stop();
    return superviseWorkers({
      count: opts.workers, baseNodeId: done.config.cluster!.nodeId, logger, io,
      listening: (a, nodes) => {
        releaseYoungGeneration();
        releaseTierUp();
        logger.info({ role: 'primary', event: 'workers-ready', tcp: a.tcp, udp: a.udp, http: a.http, nodes },
          `listening: ${describeAddresses({ ...a })} (${nodes.length} workers: nodes ${nodes.join(', ')})`);
      },
    });
  }

  const config = worker ? workerConfig(done.config, worker) : done.config;
  const { createConcentrator } = await import('../daemon.js');
  const c = createConcentrator(config, { logger, ...(worker && { metrics: await workerMetrics(worker) }) });
  let addrs: Awaited<ReturnType<typeof c.start>>;
  try {
    addrs = await c.start();
  } catch (err) {
    io.err(`iotsocket: ${(err as Error).message}\n`);
    // A coded error (port in use, cannot listen) is the whole story in that one line; only
    // an unexpected failure is worth its stack in the log.
    if (!(err instanceof IotsError)) logger.error({ err }, 'start failed');
    c.destroy();
    return ExitCode.RUNTIME;
  }
  // Handlers first, then the line a supervisor waits for: a SIGTERM right after it is graceful.
  const stopped = untilSignal(c, logger, io, opts.config, early.first);
  early.stop();
  releaseYoungGeneration(); // started: V8 sizes the young generation for the load from here
  releaseTierUp(); // and optimizes what the load runs hot
  logger.info({ tcp: addrs.tcp, udp: addrs.udp, http: addrs.http }, `listening: ${describeAddresses({ ...addrs })}`);
  if (worker) reportReady(worker.nodeId, addrs);
  return stopped;
}

/** A worker's metrics carry its node id as a label: a scrape of a shared port says whose figures it got. */
async function workerMetrics(worker: WorkerIdentity): Promise<Metrics> {
  const { Metrics } = await import('../observability/metrics.js');
  const metrics = new Metrics({ defaultMetrics: true });
  metrics.registry.setDefaultLabels({ node: worker.nodeId });
  return metrics;
}

export function registerStart(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('start')
    .description('run the concentrator (first start creates the auth key file and a dev certificate if configured)')
    .option('-c, --config <file>', 'YAML config file (relative paths inside resolve against the current directory)', DEFAULT_CONFIG)
    .option('--pretty', 'human-readable log lines (default when stdout is a terminal, or log.pretty)')
    .option('--no-pretty', 'JSON log lines, one object each, even on a terminal')
    .option('--workers <n>', 'run n nodes of one cluster in this host\'s processes, sharing the listening ports ("auto": one per core; needs cluster.redis)', parseWorkers)
    .action(async (opts: StartOptions) => done(await runStart(opts, io)));
}
