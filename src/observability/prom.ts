import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

/**
 * The parts of prom-client the daemon uses, loaded from prom-client's own files rather than its
 * index (issue 14, RSS at start): the index also loads Summary (tdigest, bintrees), Pushgateway
 * (http, https), AggregatorRegistry (cluster) and the default metrics, whose process CPU metric
 * requires @opentelemetry/api at load for exemplars the daemon never enables (51 files, 0.6–1.6
 * MiB of the start's RSS). The same classes: a Registry made from the index (tests, a worker's
 * merge) is this Registry. CommonJS files, so required (literal requires: the single executable's
 * bundle, scripts/build-sea.mjs, defines `require` and esbuild bundles them).
 */
const load: NodeJS.Require = typeof require === 'function' ? require : createRequire(import.meta.url);

export const Registry = load('prom-client/lib/registry') as typeof PromClient.Registry;
export const Counter = load('prom-client/lib/counter') as typeof PromClient.Counter;
export const Gauge = load('prom-client/lib/gauge') as typeof PromClient.Gauge;
export const Histogram = load('prom-client/lib/histogram') as typeof PromClient.Histogram;
export type Registry = PromClient.Registry;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;

type DefaultMetric = (registry: Registry, config: { prefix: string; eventLoopMonitoringPrecision: number }) => void;

/**
 * prom-client's default metrics (`collectDefaultMetrics`), in its order and with its config,
 * its own process CPU metric replaced by `processCpuTotal` below.
 */
export function collectDefaultMetrics(opts: { register: Registry; prefix: string }): void {
  const config = { eventLoopMonitoringPrecision: 10, prefix: opts.prefix };
  const metrics: DefaultMetric[] = [
    processCpuTotal,
    load('prom-client/lib/metrics/processStartTime') as DefaultMetric,
    load('prom-client/lib/metrics/osMemoryHeap') as DefaultMetric,
    load('prom-client/lib/metrics/processOpenFileDescriptors') as DefaultMetric,
    load('prom-client/lib/metrics/processMaxFileDescriptors') as DefaultMetric,
    load('prom-client/lib/metrics/eventLoopLag') as DefaultMetric,
    ...(typeof process.getActiveResourcesInfo === 'function' ? [load('prom-client/lib/metrics/processResources') as DefaultMetric] : []),
    load('prom-client/lib/metrics/processHandles') as DefaultMetric,
    load('prom-client/lib/metrics/processRequests') as DefaultMetric,
    load('prom-client/lib/metrics/heapSizeAndUsed') as DefaultMetric,
    load('prom-client/lib/metrics/heapSpacesSizeAndUsed') as DefaultMetric,
    load('prom-client/lib/metrics/version') as DefaultMetric,
    load('prom-client/lib/metrics/gc') as DefaultMetric,
  ];
  for (const metric of metrics) metric(opts.register, config);
}

/**
 * prom-client 15's lib/metrics/processCpuTotal without exemplars (its only use of
 * @opentelemetry/api): the same three counters, names and help, advanced by process.cpuUsage()
 * since the last scrape when the first is collected.
 */
function processCpuTotal(registry: Registry, config: { prefix: string }): void {
  let last = process.cpuUsage();
  const user = new Counter({
    name: `${config.prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    // The one metric's `collect` sets all three, as prom-client's does.
    collect() {
      const now = process.cpuUsage();
      const userMicros = now.user - last.user;
      const systemMicros = now.system - last.system;
      last = now;
      user.inc(userMicros / 1e6);
      system.inc(systemMicros / 1e6);
      total.inc((userMicros + systemMicros) / 1e6);
    },
  });
  const system = new Counter({ name: `${config.prefix}process_cpu_system_seconds_total`, help: 'Total system CPU time spent in seconds.', registers: [registry] });
  const total = new Counter({ name: `${config.prefix}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers: [registry] });
}
